package metacall

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The floor: one bare cgo call into the embedded runtime (a cffi extern "Python" no-op).
func BenchmarkBareCgoNoop(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchNoop()
	}
}

// One goroutine's Call of a Python no-op: lookup, tape, crossing, result.
func BenchmarkCallNoop(b *testing.B) {
	mustCall(b, "noop")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Call("noop"); err != nil {
			b.Fatal(err)
		}
	}
}

// A MetaCall-shaped call: two integers in, one out.
func BenchmarkCallAdd(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Call("add", i, 1); err != nil {
			b.Fatal(err)
		}
	}
}

const benchGoroutines = 1000

// runGoroutines spreads b.N items over benchGoroutines goroutines; ns/op is per item.
func runGoroutines(b *testing.B, item func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	n := int64(b.N)
	b.ResetTimer()
	for g := 0; g < benchGoroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if err := item(i); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// 1,000 goroutines each calling a one-item function directly: they queue on the GIL.
func BenchmarkDirect1000Goroutines(b *testing.B) {
	runGoroutines(b, func(i int64) error {
		_, err := Call("echo", i)
		return err
	})
}

// The same 1,000 goroutines, each item going through a Batcher into a list function.
func BenchmarkBatcher1000Goroutines(b *testing.B) {
	benchBatcher(b, "identity_all")
}

// score_all has a fixed cost per call, as a model's predict does: here batching pays.
func BenchmarkDirectScore1000Goroutines(b *testing.B) {
	runGoroutines(b, func(i int64) error {
		_, err := Call("score_all", []interface{}{i})
		return err
	})
}

func BenchmarkBatcherScore1000Goroutines(b *testing.B) {
	benchBatcher(b, "score_all")
}

func benchBatcher(b *testing.B, function string) {
	batcher := NewBatcher(function, BatcherOptions{
		MaxBatchSize: 256, MaxWait: 50 * time.Microsecond, QueueSize: 4 * benchGoroutines,
	})
	defer batcher.Close()
	ctx := context.Background()
	runGoroutines(b, func(i int64) error {
		_, err := batcher.Call(ctx, i)
		return err
	})
	if st := batcher.Stats(); st.Batches > 0 {
		b.ReportMetric(float64(st.Items)/float64(st.Batches), "items/batch")
	}
}

// TestPerformanceGoals measures the two goals of the Go host in one run and fails when they
// are missed. Timing under the race detector means nothing, so it runs only when asked:
//
//	MLBRIDGE_GO_PERF=1 go test -run TestPerformanceGoals -v ./metacall/
func TestPerformanceGoals(t *testing.T) {
	if os.Getenv("MLBRIDGE_GO_PERF") == "" {
		t.Skip("set MLBRIDGE_GO_PERF=1 to measure (not under -race)")
	}
	ns := func(f func(*testing.B)) float64 {
		r := testing.Benchmark(f)
		return float64(r.T.Nanoseconds()) / float64(r.N)
	}
	floor := ns(BenchmarkBareCgoNoop)
	call := ns(BenchmarkCallNoop)
	add := ns(BenchmarkCallAdd)
	direct := ns(BenchmarkDirect1000Goroutines)
	batched := ns(BenchmarkBatcher1000Goroutines)
	t.Logf("bare cgo no-op %.0f ns; Call no-op %.0f ns (%.2fx the floor); Call add(i, 1) %.0f ns (%.2fx)",
		floor, call, call/floor, add, add/floor)
	t.Logf("1,000 goroutines: direct %.0f ns/item, Batcher %.0f ns/item (%.1fx the throughput)",
		direct, batched, direct/batched)
	if call > 4*floor {
		t.Errorf("Call no-op is %.2fx the bare cgo call; the goal is at most 4x", call/floor)
	}
	if direct < 5*batched {
		t.Errorf("the Batcher gives %.1fx the direct per-item throughput; the goal is at least 5x", direct/batched)
	}
}
