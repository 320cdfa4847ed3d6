package metacall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func testGate(n int) *gate {
	g := &gate{wake: make(chan struct{}, 1024)}
	g.free.Store(int64(n))
	return g
}

func withGate(t *testing.T, g *gate) {
	old := currentGate.Load()
	currentGate.Store(g)
	t.Cleanup(func() { currentGate.Store(old) })
}

func TestGateWaiterGivesUpWithItsContextAndNoSlotIsLost(t *testing.T) {
	g := testGate(2)
	withGate(t, g)
	a, _, _ := admit(nil)
	b, _, _ := admit(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := admit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a full gate and a cancelled context: got %v", err)
	}
	a.release()
	b.release()
	for deadline := time.Now().Add(10 * time.Second); g.free.Load() != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d slots free after both were released, want 2", g.free.Load())
		}
	}
	for i := 0; i < 2; i++ {
		if _, _, err := admit(ctx); err != nil { // free slots are taken even with a dead context
			t.Fatalf("slot %d after the waiter left: %v", i, err)
		}
	}
}

func TestGateHandsSlotsToWaitersInTurn(t *testing.T) {
	g := testGate(1)
	withGate(t, g)
	first, _, _ := admit(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	inside, most := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, held, _ := admit(nil)
			if held { // no call follows to end it
				dropHold()
			}
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			runtime.Gosched()
			mu.Lock()
			inside--
			mu.Unlock()
			g.release()
		}()
	}
	first.release()
	wg.Wait()
	if most != 1 || g.free.Load() != 1 {
		t.Fatalf("at most %d inside at once (want 1); %d free at the end (want 1)", most, g.free.Load())
	}
}

// 1,000 goroutines in calls that release the GIL (time.sleep) used to hold 1,000 OS threads;
// past MaxCallsInFlight they now wait in Go. The bound is the issue's: CPUs + 16 threads.
func TestThousandGoroutinesDoNotHoldAThreadEach(t *testing.T) {
	const goroutines = 1000
	limit := runtime.NumCPU() + 16
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		most := 0
		for {
			most = max(most, osThreads(t))
			select {
			case <-stop:
				peak <- most
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	errs := inGoroutines(goroutines, func(i int) error {
		if got, err := Call("sleep_then", 0.001, i); err != nil || got != int64(i) {
			return fmt.Errorf("call %d: (%v, %v)", i, got, err)
		}
		return nil
	})
	close(stop)
	most := <-peak
	for _, err := range errs {
		t.Error(err)
	}
	if most > limit {
		t.Fatalf("the process peaked at %d OS threads; the bound is %d (CPUs + 16)", most, limit)
	}
	t.Logf("peak %d OS threads (bound %d)", most, limit)
}

func osThreads(t *testing.T) int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err == nil {
				return n
			}
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// inGoroutines runs f(0) … f(n-1) each on its own goroutine, all at once, and returns their
// errors.
func inGoroutines(n int, f func(i int) error) []error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return all
}
