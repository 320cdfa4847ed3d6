package metacall

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Destroy ends the runtime for the whole process, so each scenario runs in a child process:
// the test binary again, with childEnv naming the scenario (TestMain then skips its own
// Initialize for "fresh").
const childEnv = "MLBRIDGE_GO_DESTROY_SCENARIO"

func runChild(t *testing.T, scenario string) {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		t.Skip("already in a child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDestroyScenario$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+scenario)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDestroyScenario") {
		t.Fatalf("scenario %s failed (%v):\n%s", scenario, err, out)
	}
}

func TestDestroyWaitsForCallsInFlight(t *testing.T)   { runChild(t, "in-flight") }
func TestDestroyBeforeInitializeIsANoOp(t *testing.T) { runChild(t, "fresh") }
func TestDestroyGivesUpOnAStuckCall(t *testing.T)     { runChild(t, "stuck") }

// TestDestroyScenario is the child side; it does nothing in a normal run.
func TestDestroyScenario(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("runs only as a child of the TestDestroy* tests")
	case "in-flight":
		destroyWithCallsInFlight(t)
	case "fresh":
		destroyBeforeInitialize(t)
	case "stuck":
		destroyWithAStuckCall(t)
	default:
		t.Fatalf("unknown scenario %q", os.Getenv(childEnv))
	}
}

func destroyWithCallsInFlight(t *testing.T) {
	const calls = 8
	var wg sync.WaitGroup
	started := make(chan struct{}, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			got, err := Call("sleep_then", 0.5, i)
			if err != nil || got != int64(i) {
				t.Errorf("call %d in flight: got (%v, %v), want its own result", i, got, err)
			}
		}()
	}
	for i := 0; i < calls; i++ {
		<-started
	}
	time.Sleep(100 * time.Millisecond) // let them reach Python
	b := NewBatcher("double_all", BatcherOptions{})
	defer b.Close()

	start := time.Now()
	Destroy()
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond {
		t.Errorf("Destroy returned after %v, before the calls in flight finished", elapsed)
	}
	wg.Wait()

	if _, err := Call("add", 1, 2); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Call after Destroy: got %v, want ErrDestroyed", err)
	}
	if err := LoadFromMemory("py", "def f(): pass\n"); !errors.Is(err, ErrDestroyed) {
		t.Errorf("LoadFromMemory after Destroy: got %v, want ErrDestroyed", err)
	}
	if err := LoadFromFile("py", []string{"x.py"}); !errors.Is(err, ErrDestroyed) {
		t.Errorf("LoadFromFile after Destroy: got %v, want ErrDestroyed", err)
	}
	if _, err := b.Call(context.Background(), 1); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Batcher.Call after Destroy: got %v, want ErrDestroyed", err)
	}
	start = time.Now()
	Destroy() // twice
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("second Destroy took %v", elapsed)
	}

	// Initialize starts it again, with an empty function table.
	if err := Initialize(); err != nil {
		t.Fatal(err)
	}
	if _, err := Call("add", 1, 2); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("after re-Initialize, before loading: got %v", err)
	}
	script, _ := filepath.Abs("testdata/calls.py")
	if err := LoadFromFile("py", []string{script}); err != nil {
		t.Fatal(err)
	}
	if got, err := Call("add", 1, 2); err != nil || got != int64(3) {
		t.Errorf("after reloading: got (%v, %v)", got, err)
	}
}

func destroyBeforeInitialize(t *testing.T) {
	if _, err := Call("add", 1, 2); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("Call before Initialize: got %v, want ErrNotInitialized", err)
	}
	Destroy()
	Destroy()
	if _, err := Call("add", 1, 2); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("Call after an early Destroy: got %v, want ErrNotInitialized", err)
	}
	if err := Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := LoadFromMemory("py", "def seven():\n    return 7\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := Call("seven"); err != nil || got != int64(7) {
		t.Errorf("got (%v, %v)", got, err)
	}
}

func destroyWithAStuckCall(t *testing.T) {
	DestroyTimeout = 200 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		got, err := Call("sleep_then", 2.0, "late")
		if err == nil && got != "late" {
			err = errors.New("wrong result")
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	Destroy()
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
		t.Errorf("Destroy waited %v for a stuck call; DestroyTimeout is %v", elapsed, DestroyTimeout)
	}
	if _, err := Call("add", 1, 2); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Call after Destroy: got %v, want ErrDestroyed", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the stuck call: %v", err)
	}
}
