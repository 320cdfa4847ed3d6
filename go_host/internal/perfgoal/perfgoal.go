// Package perfgoal reports the speed goals that the performance tests measure, one line per
// goal in the form that `make bench-micro` collects from every host into one summary:
//
//	GOAL <name>: <what was measured>; ratio <r>x (goal <= <limit>x) PASS|MISS
//
// A missed goal also fails the test.
package perfgoal

import (
	"fmt"
	"testing"
)

// AtMost reports a goal that ratio be at most limit; it returns whether it was met.
func AtMost(t testing.TB, name, measured string, ratio, limit float64) bool {
	t.Helper()
	return report(t, name, measured, fmt.Sprintf("ratio %.2fx (goal <= %gx)", ratio, limit), ratio <= limit)
}

// AtLeast reports a goal that ratio be at least limit; it returns whether it was met.
func AtLeast(t testing.TB, name, measured string, ratio, limit float64) bool {
	t.Helper()
	return report(t, name, measured, fmt.Sprintf("ratio %.2fx (goal >= %gx)", ratio, limit), ratio >= limit)
}

// Count reports a goal that a count be at most limit; it returns whether it was met.
func Count(t testing.TB, name, measured string, count, limit int) bool {
	t.Helper()
	return report(t, name, measured, fmt.Sprintf("%d (goal <= %d)", count, limit), count <= limit)
}

func report(t testing.TB, name, measured, against string, met bool) bool {
	t.Helper()
	verdict := "PASS"
	if !met {
		verdict = "MISS"
	}
	line := fmt.Sprintf("GOAL %s: %s; %s %s", name, measured, against, verdict)
	fmt.Println(line) // on stdout whatever -v says, for the summary
	if !met {
		t.Error(line)
	}
	return met
}
