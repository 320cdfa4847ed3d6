package metacall

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an injected batch function: it answers each item with item*10 and records the
// size of every batch it sees.
type recorder struct {
	mu      sync.Mutex
	sizes   []int
	gate    chan struct{} // when non-nil, each call waits for it to be closed
	entered chan int      // when non-nil, each call sends its batch size on entry
}

func (r *recorder) call(function string, items []interface{}) (interface{}, error) {
	if r.entered != nil {
		r.entered <- len(items)
	}
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.sizes = append(r.sizes, len(items))
	r.mu.Unlock()
	out := make([]interface{}, len(items))
	for i, it := range items {
		out[i] = it.(int) * 10
	}
	return out, nil
}

func (r *recorder) batchSizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.sizes...)
}

func callAll(t *testing.T, b *Batcher, items []int) []error {
	t.Helper()
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.Call(context.Background(), item)
			if err == nil && got != item*10 {
				t.Errorf("item %d: got %v, want %d", item, got, item*10)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errs
}

func TestBatcherFullBatchGoesWithoutWaiting(t *testing.T) {
	rec := &recorder{}
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 4, MaxWait: time.Hour}, rec.call)
	defer b.Close()
	start := time.Now()
	for _, err := range callAll(t, b, []int{1, 2, 3, 4}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("a full batch waited %v for MaxWait", elapsed)
	}
	if sizes := rec.batchSizes(); len(sizes) != 1 || sizes[0] != 4 {
		t.Fatalf("batch sizes %v, want [4]", sizes)
	}
}

func TestBatcherSendsPartialBatchAfterMaxWait(t *testing.T) {
	rec := &recorder{}
	const wait = 30 * time.Millisecond
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 100, MaxWait: wait}, rec.call)
	defer b.Close()
	start := time.Now()
	for _, err := range callAll(t, b, []int{1, 2}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed < wait {
		t.Fatalf("answered after %v, before MaxWait %v", elapsed, wait)
	}
	total := 0
	for _, n := range rec.batchSizes() {
		total += n
	}
	if total != 2 {
		t.Fatalf("batches %v carried %d items, want 2", rec.batchSizes(), total)
	}
}

func TestBatcherSplitsAtMaxBatchSize(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int)}
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 3, QueueSize: 100}, rec.call)
	defer b.Close()
	// Hold the dispatcher in its first call so that the next 7 items queue up.
	done := make(chan struct{})
	go func() { defer close(done); _, _ = b.Call(context.Background(), 0) }()
	<-rec.entered
	var wg sync.WaitGroup
	for i := 1; i <= 7; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := b.Call(context.Background(), i); err != nil || got != i*10 {
				t.Errorf("item %d: got %v, %v", i, got, err)
			}
		}()
	}
	waitFor(t, func() bool { return len(b.queue) == 7 })
	go func() {
		for range rec.entered {
		}
	}()
	close(rec.gate)
	wg.Wait()
	<-done
	sizes := rec.batchSizes()
	want := []int{1, 3, 3, 1}
	if len(sizes) != len(want) {
		t.Fatalf("batch sizes %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("batch sizes %v, want %v", sizes, want)
		}
	}
}

func TestBatcherReturnsContextErrorWhenCancelled(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 1}, rec.call)
	defer b.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Call(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before Call: got %v", err)
	}

	// Item 2 occupies the dispatcher; item 3 waits in the queue and is cancelled there.
	go func() { _, _ = b.Call(context.Background(), 2) }()
	<-rec.entered
	ctx3, cancel3 := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := b.Call(ctx3, 3); errc <- err }()
	waitFor(t, func() bool { return len(b.queue) == 1 })
	cancel3()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: got %v", err)
	}
	close(rec.gate)
	b.Close()
	if got := b.Stats(); got.Cancelled != 1 || got.Items != 1 {
		t.Fatalf("stats %+v: want the cancelled item dropped before its batch", got)
	}
}

func TestBatcherRefusesAtOnceWhenQueueIsFull(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 1, QueueSize: 2}, rec.call)
	var wg sync.WaitGroup
	call := func(i int) {
		defer wg.Done()
		if _, err := b.Call(context.Background(), i); err != nil {
			t.Errorf("item %d: %v", i, err)
		}
	}
	wg.Add(3)
	go call(1)
	<-rec.entered // the dispatcher holds item 1
	go call(2)
	go call(3)
	waitFor(t, func() bool { return len(b.queue) == 2 })

	start := time.Now()
	if _, err := b.Call(context.Background(), 4); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("full queue: got %v, want ErrOverloaded", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("overload took %v; it must be immediate", elapsed)
	}
	close(rec.gate)
	wg.Wait()
	b.Close()
	if got := b.Stats().Overloaded; got != 1 {
		t.Fatalf("Overloaded = %d, want 1", got)
	}
}

func TestBatcherCloseAnswersQueuedItems(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 2, QueueSize: 10}, rec.call)
	var wg sync.WaitGroup
	answered := atomic.Int32{}
	for i := 1; i <= 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.Call(context.Background(), i)
			if err != nil || got != i*10 {
				t.Errorf("item %d: got %v, %v", i, got, err)
				return
			}
			answered.Add(1)
		}()
	}
	held := <-rec.entered
	waitFor(t, func() bool { return len(b.queue) == 5-held })
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	waitFor(t, func() bool {
		b.mu.RLock()
		defer b.mu.RUnlock()
		return b.closed
	})
	if _, err := b.Call(context.Background(), 99); !errors.Is(err, ErrBatcherClosed) {
		t.Fatalf("Call after Close: got %v, want ErrBatcherClosed", err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was still running")
	default:
	}
	close(rec.gate)
	<-closed
	wg.Wait()
	if answered.Load() != 5 {
		t.Fatalf("%d of 5 items answered", answered.Load())
	}
	b.Close() // a second Close is a no-op
}

func TestBatcherLengthMismatchFailsEveryCaller(t *testing.T) {
	for name, result := range map[string]interface{}{
		"short list": []interface{}{1},
		"not a list": map[string]interface{}{"a": 1},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBatcher("f", BatcherOptions{MaxBatchSize: 3, MaxWait: time.Hour},
				func(string, []interface{}) (interface{}, error) { return result, nil })
			defer b.Close()
			var wg sync.WaitGroup
			for i := 0; i < 3; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := b.Call(context.Background(), i)
					var lengthErr *BatchLengthError
					if !errors.As(err, &lengthErr) || lengthErr.Items != 3 {
						t.Errorf("got %v, want a BatchLengthError for 3 items", err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestBatcherGivesPythonExceptionToEveryCaller(t *testing.T) {
	boom := &PythonError{Function: "f", Type: "ValueError", Message: "bad batch"}
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 4, MaxWait: time.Hour},
		func(string, []interface{}) (interface{}, error) { return nil, boom })
	defer b.Close()
	for i, err := range callAll(t, b, []int{1, 2, 3, 4}) {
		var pyErr *PythonError
		if !errors.As(err, &pyErr) || pyErr.Type != "ValueError" {
			t.Errorf("caller %d: got %v, want the ValueError", i, err)
		}
	}
}

func TestBatcherAnswersEachOfManyGoroutines(t *testing.T) {
	rec := &recorder{}
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 64, MaxWait: time.Millisecond, QueueSize: 2000}, rec.call)
	defer b.Close()
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	for i, err := range callAll(t, b, items) {
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	stats := b.Stats()
	if stats.Items != 1000 || stats.Batches >= 1000 {
		t.Fatalf("stats %+v: want 1000 items in fewer than 1000 batches", stats)
	}
}

func TestBatcherDispatchersRunBatchesAtTheSameTime(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	b := newBatcher("f", BatcherOptions{MaxBatchSize: 1, Dispatchers: 2},
		func(_ string, items []interface{}) (interface{}, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			return items, nil
		})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = b.Call(context.Background(), i) }()
	}
	waitFor(t, func() bool { return running.Load() == 2 })
	close(release)
	wg.Wait()
	b.Close()
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak.Load())
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// The Batcher's own cost per item, with 1,000 goroutines and no Python behind it.
func BenchmarkBatcherOverhead1000Goroutines(b *testing.B) {
	batcher := newBatcher("f", BatcherOptions{MaxBatchSize: 256, MaxWait: 50 * time.Microsecond, QueueSize: 4 * benchGoroutines},
		func(_ string, items []interface{}) (interface{}, error) { return items, nil })
	defer batcher.Close()
	ctx := context.Background()
	runGoroutines(b, func(i int64) error {
		_, err := batcher.Call(ctx, i)
		return err
	})
	b.ReportMetric(float64(batcher.Stats().Items)/float64(max(batcher.Stats().Batches, 1)), "items/batch")
}
