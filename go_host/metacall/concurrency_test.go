// Calls from many goroutines at once: each gets its own result, a slow call does not hold up
// quick ones, and a cancelled context stops a call before it starts.

package metacall

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestCallContextChecksTheContextFirst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if got, err := CallContext(ctx, "add", 1, 2); err != nil || got != int64(3) {
		t.Fatalf("live context: (%v, %v)", got, err)
	}
	cancel()
	if _, err := CallContext(ctx, "add", 1, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

func TestThousandGoroutinesGetTheirOwnResults(t *testing.T) {
	errs := inGoroutines(1000, func(i int) error {
		label := fmt.Sprintf("g%d", i)
		got, err := Call("echo", []interface{}{i, label})
		if err != nil {
			return err
		}
		if want := []interface{}{int64(i), label}; !reflect.DeepEqual(got, want) {
			return fmt.Errorf("goroutine %d got %#v", i, got)
		}
		return nil
	})
	for _, err := range errs {
		t.Error(err)
	}
}

func TestSlowCallDoesNotBlockOthers(t *testing.T) {
	// time.sleep releases the GIL: a quick call must not wait for a slow one (upstream ran
	// every call on one locked thread, so it did).
	slow := make(chan error, 1)
	go func() {
		_, err := Call("sleep_then", 1.0, "slow")
		slow <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	mustCall(t, "add", 1, 2)
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Fatalf("a quick call waited %v behind a slow one", elapsed)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}
