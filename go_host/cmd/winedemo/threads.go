package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// threadSampler records the process's peak number of OS threads (the kernel's count: Go's
// threads, CPython's and TensorFlow's together) by reading /proc/self/status while it runs.
// Go's runtime keeps no such high-water mark, and the kernel keeps none per process.
type threadSampler struct {
	stop chan struct{}
	peak chan int
}

func sampleThreads(every time.Duration) *threadSampler {
	s := &threadSampler{stop: make(chan struct{}), peak: make(chan int, 1)}
	go func() {
		peak := 0
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if n, err := threadCount(); err == nil && n > peak {
				peak = n
			}
			select {
			case <-s.stop:
				s.peak <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak it saw (0 if /proc could not be read).
func (s *threadSampler) Stop() int {
	close(s.stop)
	return <-s.peak
}

func threadCount() (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseThreads(f)
}

// parseThreads reads the "Threads:  12" line of a /proc/<pid>/status file.
func parseThreads(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, found := strings.CutPrefix(sc.Text(), "Threads:"); found {
			return strconv.Atoi(strings.TrimSpace(rest))
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no Threads line in /proc/self/status")
}
