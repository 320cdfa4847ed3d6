package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"mlbridge/go_host/internal/perfgoal"
)

// childArgs names the winedemo flags that the test binary, run again as a child, executes.
const childArgs = "MLBRIDGE_WINEDEMO_CHILD_ARGS"

// TestAdmissionGoals runs the naive pattern (1,000 goroutines, each calling process_batch with
// one review) and the Batcher, each in its own process (a thread count is per process), twice
// each, alternating, and reports the Go host's admission goals from that one run:
//
//   - the direct run peaks at no more than CPUs + 16 OS threads;
//   - its inference time is at most 5x the Batcher's for the same reviews.
//
// It needs the wine data and the trained model, and times things, so it runs only when asked
// (make bench-micro):
//
//	MLBRIDGE_GO_PERF=1 go test -run TestAdmissionGoals -v ./cmd/winedemo/
func TestAdmissionGoals(t *testing.T) {
	if args := os.Getenv(childArgs); args != "" {
		runChild(t, strings.Fields(args))
		return
	}
	if os.Getenv("MLBRIDGE_GO_PERF") == "" {
		t.Skip("set MLBRIDGE_GO_PERF=1 to measure (not under -race)")
	}
	if os.Getenv("MLBRIDGE_WINE_CSV") == "" {
		t.Skip("MLBRIDGE_WINE_CSV is not set: no wine reviews to score")
	}
	// Two alternating runs of each, best time of each (and the highest thread peak): load
	// from other processes on a shared machine then moves both alike.
	var direct, batched summary
	for round := 0; round < 2; round++ {
		d := runDemo(t, "-mode direct -workers 1000 -batch 1")
		b := runDemo(t, "-mode batcher -workers 1000 -batch 32")
		if round == 0 || d.Seconds < direct.Seconds {
			direct.Seconds, direct.Reviews = d.Seconds, d.Reviews
		}
		if round == 0 || b.Seconds < batched.Seconds {
			batched.Seconds = b.Seconds
		}
		direct.PeakThreads = max(direct.PeakThreads, d.PeakThreads)
		batched.PeakThreads = max(batched.PeakThreads, b.PeakThreads)
		if d.Positive != b.Positive {
			t.Errorf("direct and Batcher disagree: %d and %d positive reviews", d.Positive, b.Positive)
		}
	}
	limit := runtime.NumCPU() + 16
	perfgoal.Count(t, "winedemo-direct-threads",
		fmt.Sprintf("winedemo -mode direct -workers 1000 -batch 1 peaked at %d OS threads (CPUs + 16 = %d; the Batcher runs: %d)",
			direct.PeakThreads, limit, batched.PeakThreads),
		direct.PeakThreads, limit)
	perfgoal.AtMost(t, "winedemo-direct-time",
		fmt.Sprintf("inference time of the same %d reviews, best of 2 alternating runs: direct (1,000 goroutines, one review each) %.3f s, -mode batcher %.3f s",
			direct.Reviews, direct.Seconds, batched.Seconds),
		direct.Seconds/batched.Seconds, 5)
}

func runDemo(t *testing.T, args string) summary {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAdmissionGoals$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childArgs+"="+args)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("winedemo %s: %v\n%s", args, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "SUMMARY "); ok {
			var s summary
			if err := json.Unmarshal([]byte(rest), &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatalf("winedemo %s printed no summary:\n%s", args, out)
	return summary{}
}

func runChild(t *testing.T, args []string) {
	cfg, err := parseFlags(args)
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(out)
	os.Stdout.WriteString("SUMMARY " + string(line) + "\n")
}
