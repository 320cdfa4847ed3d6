package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// peakRSSMB is the process's peak resident set size (VmHWM) in MB, as the kernel counts it:
// the Go heap, CPython, TensorFlow and the model together. (The published experiment quoted
// the Go heap alone.)
func peakRSSMB() (float64, error) {
	return fromStatus(parseVmHWM)
}

// fromStatus applies parse to this process's /proc/self/status.
func fromStatus[T any](parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return parse(f)
}

// statusField is the text after "name:" on its line of a /proc/<pid>/status file.
func statusField(r io.Reader, name string) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, found := strings.CutPrefix(sc.Text(), name+":"); found {
			return strings.TrimSpace(rest), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no %s line in /proc/self/status", name)
}

// parseVmHWM reads the "VmHWM:   123456 kB" line of a /proc/<pid>/status file.
func parseVmHWM(r io.Reader) (float64, error) {
	value, err := statusField(r, "VmHWM")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(value)
	if len(fields) != 2 || fields[1] != "kB" {
		return 0, fmt.Errorf("unexpected VmHWM line %q", value)
	}
	kb, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected VmHWM line %q: %w", value, err)
	}
	return kb / 1024, nil
}

// parseThreads reads the "Threads:  12" line of a /proc/<pid>/status file.
func parseThreads(r io.Reader) (int, error) {
	value, err := statusField(r, "Threads")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(value)
}
