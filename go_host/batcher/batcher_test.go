// The Batcher's contract without Python: one test per rule (when a batch goes, splitting,
// order, cancellation, a full queue, Close, errors, concurrency). Over 400 lines because every
// rule is checked against the same recorder and helpers.

package batcher

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a batch function: it answers each item with item*10 and records the size of
// every batch it sees.
type recorder struct {
	mu      sync.Mutex
	sizes   []int
	batches [][]int
	gate    chan struct{} // when non-nil, each call waits for it to be closed
	entered chan int      // when non-nil, each call sends its batch size on entry
}

func (r *recorder) call(items []int) ([]int, error) {
	if r.entered != nil {
		r.entered <- len(items)
	}
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.sizes = append(r.sizes, len(items))
	r.batches = append(r.batches, slices.Clone(items))
	r.mu.Unlock()
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = it * 10
	}
	return out, nil
}

func (r *recorder) batchSizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sizes)
}

func newRecorded(rec *recorder, opts Options) *Batcher[int, int] {
	return New("f", rec.call, opts)
}

func callAll(t *testing.T, b *Batcher[int, int], items []int) []error {
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

func TestFullBatchGoesWithoutWaiting(t *testing.T) {
	rec := &recorder{}
	b := newRecorded(rec, Options{MaxBatchSize: 4, MaxWait: time.Hour})
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

func TestPartialBatchGoesAfterMaxWait(t *testing.T) {
	rec := &recorder{}
	const wait = 30 * time.Millisecond
	b := newRecorded(rec, Options{MaxBatchSize: 100, MaxWait: wait})
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

// holdFirst makes one Call that occupies the dispatcher inside the function until
// rec.gate closes, and returns when the function has been entered.
func holdFirst(t *testing.T, b *Batcher[int, int], rec *recorder) chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); _, _ = b.Call(context.Background(), 0) }()
	<-rec.entered
	return done
}

// letGo opens the gate and drains rec.entered so that later batches do not block on it.
func letGo(rec *recorder) {
	go func() {
		for range rec.entered {
		}
	}()
	close(rec.gate)
}

func TestSplitsAtMaxBatchSize(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int)}
	b := newRecorded(rec, Options{MaxBatchSize: 3, QueueSize: 100})
	defer b.Close()
	held := holdFirst(t, b, rec)
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
	waitFor(t, func() bool { return b.Stats().Queued == 7 })
	letGo(rec)
	wg.Wait()
	<-held
	if sizes := rec.batchSizes(); !slices.Equal(sizes, []int{1, 3, 3, 1}) {
		t.Fatalf("batch sizes %v, want [1 3 3 1]", sizes)
	}
}

func TestCallManyKeepsACallersItemsTogetherAndInOrder(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int)}
	b := newRecorded(rec, Options{MaxBatchSize: 4, QueueSize: 100})
	defer b.Close()
	held := holdFirst(t, b, rec)
	type answer struct {
		got []int
		err error
	}
	groups := [][]int{{1, 2, 3}, {4, 5}, {6, 7, 8, 9, 10, 11}, {12}}
	answers := make([]answer, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.CallMany(context.Background(), g)
			answers[i] = answer{got, err}
		}()
		waitFor(t, func() bool { return b.Stats().Queued == i+1 }) // queue them in this order
	}
	letGo(rec)
	wg.Wait()
	<-held
	for i, g := range groups {
		want := make([]int, len(g))
		for j, v := range g {
			want[j] = v * 10
		}
		if answers[i].err != nil || !slices.Equal(answers[i].got, want) {
			t.Errorf("group %v: got %v, %v; want %v", g, answers[i].got, answers[i].err, want)
		}
	}
	// Batches fill to 4 rows; a group is never split, so one may overshoot, and the group of
	// 6 (larger than MaxBatchSize) goes alone.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := [][]int{{0}, {1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}, {12}}
	if len(rec.batches) != len(want) {
		t.Fatalf("batches %v, want %v", rec.batches, want)
	}
	for i := range want {
		if !slices.Equal(rec.batches[i], want[i]) {
			t.Fatalf("batches %v, want %v", rec.batches, want)
		}
	}
	if got, err := b.CallMany(context.Background(), nil); err != nil || len(got) != 0 {
		t.Fatalf("empty CallMany: %v, %v", got, err)
	}
}

func TestCancelledCallReturnsContextErrorAndIsDropped(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := newRecorded(rec, Options{MaxBatchSize: 1})
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
	waitFor(t, func() bool { return b.Stats().Queued == 1 })
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

func TestFullQueueRefusesAtOnce(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := newRecorded(rec, Options{MaxBatchSize: 1, QueueSize: 2})
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
	waitFor(t, func() bool { return b.Stats().Queued == 2 })

	start := time.Now()
	if _, err := b.Call(context.Background(), 4); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("full queue: got %v, want ErrOverloaded", err)
	}
	if _, err := b.CallMany(context.Background(), []int{5, 6}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("full queue, CallMany: got %v, want ErrOverloaded", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("overload took %v; it must be immediate", elapsed)
	}
	if st := b.Stats(); st.Running != 1 || st.Queued != 2 {
		t.Fatalf("stats %+v: want 1 batch running and 2 calls queued", st)
	}
	close(rec.gate)
	wg.Wait()
	b.Close()
	if got := b.Stats().Overloaded; got != 2 {
		t.Fatalf("Overloaded = %d, want 2", got)
	}
}

func TestMaxQueuedBatchesSizesTheQueueInBatches(t *testing.T) {
	b := New("f", func(items []int) ([]int, error) { return items, nil },
		Options{MaxBatchSize: 8, MaxQueuedBatches: 3})
	defer b.Close()
	if got := cap(b.queue); got != 24 {
		t.Fatalf("queue capacity %d, want MaxQueuedBatches × MaxBatchSize = 24", got)
	}
	explicit := New("f", func(items []int) ([]int, error) { return items, nil },
		Options{MaxBatchSize: 8, MaxQueuedBatches: 3, QueueSize: 5})
	defer explicit.Close()
	if got := cap(explicit.queue); got != 5 {
		t.Fatalf("queue capacity %d, want the explicit QueueSize 5", got)
	}
}

func TestCloseAnswersQueuedItems(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 10)}
	b := newRecorded(rec, Options{MaxBatchSize: 2, QueueSize: 10})
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
	waitFor(t, func() bool { return b.Stats().Queued == 5-held })
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	waitFor(t, func() bool {
		b.mu.RLock()
		defer b.mu.RUnlock()
		return b.closed
	})
	if _, err := b.Call(context.Background(), 99); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: got %v, want ErrClosed", err)
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

func TestWrongResultLengthFailsEveryCaller(t *testing.T) {
	b := New("f", func(items []int) ([]int, error) { return items[:1], nil },
		Options{MaxBatchSize: 3, MaxWait: time.Hour})
	defer b.Close()
	for i, err := range callAll(t, b, []int{1, 2, 3}) {
		var lengthErr *LengthError
		if !errors.As(err, &lengthErr) || lengthErr.Items != 3 || lengthErr.Got != 1 {
			t.Errorf("caller %d: got %v, want a LengthError for 3 items, 1 result", i, err)
		}
	}
}

var errBadItem = errors.New("item 13 is unlucky")

// failOn13 fails any batch holding 13 and records every batch it sees.
func failOn13(rec *recorder) Func[int, int] {
	return func(items []int) ([]int, error) {
		if slices.Contains(items, 13) {
			rec.mu.Lock()
			rec.batches = append(rec.batches, slices.Clone(items))
			rec.mu.Unlock()
			return nil, errBadItem
		}
		return rec.call(items)
	}
}

func TestFunctionErrorReachesEveryCallerOfTheBatch(t *testing.T) {
	rec := &recorder{}
	b := New("f", failOn13(rec), Options{MaxBatchSize: 4, MaxWait: time.Hour})
	defer b.Close()
	for i, err := range callAll(t, b, []int{1, 2, 13, 4}) {
		if !errors.Is(err, errBadItem) {
			t.Errorf("caller %d: got %v, want the batch's error", i, err)
		}
	}
	if st := b.Stats(); st.Batches != 1 || st.Splits != 0 {
		t.Fatalf("stats %+v: want one call and no split by default", st)
	}
}

func TestSplitOnErrorFailsOnlyTheCallerWhoseItemFails(t *testing.T) {
	rec := &recorder{}
	b := New("f", failOn13(rec), Options{MaxBatchSize: 8, MaxWait: time.Hour,
		SplitOnError: func(err error) bool { return errors.Is(err, errBadItem) }})
	defer b.Close()
	items := []int{1, 2, 3, 13, 5, 6, 7, 8}
	for i, err := range callAll(t, b, items) {
		if (items[i] == 13) != errors.Is(err, errBadItem) {
			t.Errorf("item %d: got %v; only item 13's caller must get the error", items[i], err)
		} else if items[i] != 13 && err != nil {
			t.Errorf("item %d: %v", items[i], err)
		}
	}
	// 8 → 4+4 → (2+2) → (1+1): 7 calls, 3 of them splits; every item answered once.
	if st := b.Stats(); st.Batches != 7 || st.Splits != 3 || st.Items != 8 {
		t.Fatalf("stats %+v: want 7 calls, 3 splits, 8 items", st)
	}
}

func TestSplitOnErrorLeavesOtherErrorsWhole(t *testing.T) {
	rec := &recorder{}
	b := New("f", failOn13(rec), Options{MaxBatchSize: 2, MaxWait: time.Hour,
		SplitOnError: func(error) bool { return false }})
	defer b.Close()
	for i, err := range callAll(t, b, []int{13, 1}) {
		if !errors.Is(err, errBadItem) {
			t.Errorf("caller %d: got %v, want the unsplit batch error", i, err)
		}
	}
}

func TestManyGoroutinesEachGetTheirOwnAnswer(t *testing.T) {
	rec := &recorder{}
	b := newRecorded(rec, Options{MaxBatchSize: 64, MaxWait: time.Millisecond, QueueSize: 2000})
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

func TestDispatchersRunBatchesAtTheSameTime(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	b := New("f", func(items []int) ([]int, error) {
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
	}, Options{MaxBatchSize: 1, Dispatchers: 2})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = b.Call(context.Background(), i) }()
	}
	waitFor(t, func() bool { return running.Load() == 2 })
	if st := b.Stats(); st.Running != 2 {
		t.Errorf("Stats.Running = %d while 2 batches run", st.Running)
	}
	close(release)
	wg.Wait()
	b.Close()
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak.Load())
	}
}

// Without MaxWait, a batch that is not full waits while another call runs, gathering what
// arrives, and goes when that call returns: one call in flight while the next one grows.
func TestPartialBatchWaitsForTheRunningCall(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 16)}
	b := newRecorded(rec, Options{MaxBatchSize: 64, Dispatchers: 2})
	defer b.Close()
	first := holdFirst(t, b, rec)
	group := make(chan []error, 1)
	go func() {
		got, err := b.CallMany(context.Background(), []int{1, 2, 3, 4, 5})
		if err == nil && !slices.Equal(got, []int{10, 20, 30, 40, 50}) {
			t.Errorf("group answered %v", got)
		}
		group <- []error{err}
	}()
	// The second dispatcher has taken the group and holds it instead of calling.
	waitFor(t, func() bool { return b.waiting.Load() == 1 && b.Stats().Queued == 0 })
	select {
	case n := <-rec.entered:
		t.Fatalf("a batch of %d went while another call ran", n)
	case <-time.After(20 * time.Millisecond):
	}
	letGo(rec)
	<-first
	if errs := <-group; errs[0] != nil {
		t.Fatal(errs[0])
	}
	if sizes := rec.batchSizes(); !slices.Equal(sizes, []int{1, 5}) {
		t.Fatalf("batch sizes %v, want [1 5]", sizes)
	}
}

// A full batch does not wait for the running call: up to Dispatchers calls run at once.
func TestFullBatchGoesWhileAnotherCallRuns(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan int, 16)}
	b := newRecorded(rec, Options{MaxBatchSize: 4, Dispatchers: 2})
	defer b.Close()
	first := holdFirst(t, b, rec)
	go func() { _, _ = b.CallMany(context.Background(), []int{1, 2, 3, 4}) }()
	select {
	case n := <-rec.entered:
		if n != 4 {
			t.Fatalf("second batch of %d items, want 4", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch waited for the running call")
	}
	letGo(rec)
	<-first
}

// An idle Batcher with several dispatchers calls at once with one item: nothing else runs,
// so nothing is worth waiting for.
func TestIdleBatcherCallsAtOnce(t *testing.T) {
	rec := &recorder{}
	b := newRecorded(rec, Options{MaxBatchSize: 64, Dispatchers: 2})
	defer b.Close()
	for i := 1; i <= 3; i++ {
		if got, err := b.Call(context.Background(), i); err != nil || got != i*10 {
			t.Fatalf("call %d: %v %v", i, got, err)
		}
	}
	if sizes := rec.batchSizes(); !slices.Equal(sizes, []int{1, 1, 1}) {
		t.Fatalf("batch sizes %v, want [1 1 1]", sizes)
	}
}

// Many callers, three dispatchers and calls of varying length: every caller is answered (a
// partial batch never waits for a call's end that has already been signalled).
func TestAccumulatingDispatchersAnswerEveryone(t *testing.T) {
	var n atomic.Int64
	b := New("f", func(items []int) ([]int, error) {
		if n.Add(1)%3 == 0 {
			time.Sleep(200 * time.Microsecond)
		}
		out := make([]int, len(items))
		for i, it := range items {
			out[i] = it * 10
		}
		return out, nil
	}, Options{MaxBatchSize: 8, Dispatchers: 3, QueueSize: 4000})
	defer b.Close()
	items := make([]int, 2000)
	for i := range items {
		items[i] = i
	}
	for i, err := range callAll(t, b, items) {
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	if st := b.Stats(); st.Items != 2000 || st.Running != 0 || b.busy.Load() != 0 {
		t.Fatalf("stats %+v, busy %d", st, b.busy.Load())
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

// The Batcher's own cost per item with about 1,000 goroutines calling and a function that
// does nothing: channel hand-offs, gathering and answering.
func BenchmarkOverhead1000Goroutines(b *testing.B) {
	bat := New("f", func(items []int) ([]int, error) { return items, nil },
		Options{MaxBatchSize: 256, MaxWait: 50 * time.Microsecond, QueueSize: 4000})
	defer bat.Close()
	ctx := context.Background()
	b.SetParallelism(max(1, 1000/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := bat.Call(ctx, i); err != nil {
				b.Error(err)
				return
			}
		}
	})
	st := bat.Stats()
	b.ReportMetric(float64(st.Items)/float64(max(st.Batches, 1)), "items/batch")
}
