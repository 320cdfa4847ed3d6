package batcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrOverloaded is returned by Call at once when the queue is full.
	ErrOverloaded = errors.New("batcher: queue is full")
	// ErrClosed is returned by Call after Close.
	ErrClosed = errors.New("batcher: closed")
)

// Func makes one call for a batch: it returns one result per item, in order, or an error for
// the whole batch.
type Func[T, R any] func(items []T) ([]R, error)

// Options configures a Batcher. Zero values take the defaults named on each field.
type Options struct {
	// MaxBatchSize is the most items one call receives (default 32). A CallMany group larger
	// than this is called on its own; a group is never split between calls.
	MaxBatchSize int
	// MaxWait is how long a dispatcher waits after the first item of a batch for more items.
	// The default, 0, adds no fixed wait: an idle Batcher calls at once with what is queued,
	// and a batch that is not full while another call runs waits for that call to end (see
	// the package doc, "Batches under load").
	MaxWait time.Duration
	// QueueSize bounds the Calls (and CallMany groups) waiting for a dispatcher. When it is
	// full, Call returns ErrOverloaded at once instead of waiting. Default:
	// MaxQueuedBatches × MaxBatchSize when MaxQueuedBatches is set, else 1024.
	QueueSize int
	// MaxQueuedBatches sizes the queue in full batches (mly's setting); see QueueSize.
	MaxQueuedBatches int
	// Dispatchers is how many batches may run at once (default 1). More than one helps when
	// the function releases the GIL (TensorFlow kernels do). Without MaxWait, a second call
	// starts while one runs only with a full batch.
	Dispatchers int
	// SplitOnError, when set and true for a failed batch of more than one caller, splits the
	// batch in two halves and calls each again, so only the callers whose items fail get the
	// error. Only for functions without side effects (see the package doc for the cost).
	SplitOnError func(err error) bool
}

// Stats counts what a Batcher has done. The counters only grow; Queued and Running are
// current values.
type Stats struct {
	// Batches is the number of calls made to the function (splits included).
	Batches int64
	// Items is the number of items answered by a call (each item counts once).
	Items int64
	// Overloaded is the number of Call attempts refused with ErrOverloaded.
	Overloaded int64
	// Cancelled is the number of items dropped before their batch ran because their context
	// had ended.
	Cancelled int64
	// Splits is the number of failed batches split in two under Options.SplitOnError.
	Splits int64
	// Queued is the number of Calls waiting for a dispatcher now.
	Queued int
	// Running is the number of batches being called now.
	Running int64
}

// LengthError is returned to every caller of a batch whose call returned a list of another
// length than the number of items (or, through adapters, something that is not a list).
type LengthError struct {
	// Function is the Batcher's name.
	Function string
	// Items is how many items the batch held.
	Items int
	// Got is the length of the returned list, or -1 when the result was not a list.
	Got int
}

func (e *LengthError) Error() string {
	if e.Got < 0 {
		return fmt.Sprintf("%s: batch of %d items returned a non-list result", e.Function, e.Items)
	}
	return fmt.Sprintf("%s: batch of %d items returned %d results", e.Function, e.Items, e.Got)
}

// Batcher coalesces items from many goroutines into few calls of one Func. Its methods may be
// called from any number of goroutines.
type Batcher[T, R any] struct {
	name string
	fn   Func[T, R]
	opts Options

	// mu guards closed against the close(queue) in Close; senders hold it for reading only
	// around a non-blocking send, never while the function runs.
	mu     sync.RWMutex
	closed bool
	queue  chan *request[T, R]
	done   sync.WaitGroup
	pool   sync.Pool // *request[T, R]

	batches, items, overloaded, cancelled, splits, running atomic.Int64

	// busy counts dispatchers between taking a batch and its function's return; waiting
	// counts those holding a partial batch until then, and ended wakes one of them (see
	// accumulate).
	busy, waiting atomic.Int64
	ended         chan struct{}
}

// request is one Call (one item) or one CallMany (a group of items) waiting for its answer.
type request[T, R any] struct {
	ctx   context.Context
	one   T             // Call's item
	many  []T           // CallMany's items; nil for Call
	reply chan reply[R] // buffered (1): a dispatcher never blocks on a caller that left
}

type reply[R any] struct {
	one  R
	many []R
	err  error
}

func (r *request[T, R]) size() int {
	if r.many != nil {
		return len(r.many)
	}
	return 1
}

// New starts a Batcher whose dispatchers call fn with batches of items; name appears in its
// errors. Close it when done.
func New[T, R any](name string, fn Func[T, R], opts Options) *Batcher[T, R] {
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = 32
	}
	if opts.MaxWait < 0 {
		opts.MaxWait = 0
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
		if opts.MaxQueuedBatches > 0 {
			opts.QueueSize = opts.MaxQueuedBatches * opts.MaxBatchSize
		}
	}
	if opts.Dispatchers <= 0 {
		opts.Dispatchers = 1
	}
	b := &Batcher[T, R]{
		name:  name,
		fn:    fn,
		opts:  opts,
		queue: make(chan *request[T, R], opts.QueueSize),
		ended: make(chan struct{}, opts.Dispatchers),
	}
	b.pool.New = func() any { return &request[T, R]{reply: make(chan reply[R], 1)} }
	b.done.Add(opts.Dispatchers)
	for i := 0; i < opts.Dispatchers; i++ {
		go b.dispatch()
	}
	return b
}

// Call queues item for the next batch and waits for its own result. It returns ctx.Err() if
// ctx ends first, ErrOverloaded at once if the queue is full, and ErrClosed after Close.
func (b *Batcher[T, R]) Call(ctx context.Context, item T) (R, error) {
	var zero R
	req := b.pool.Get().(*request[T, R])
	req.ctx, req.one = ctx, item
	r, err := b.submit(req)
	if err != nil {
		return zero, err
	}
	return r.one, r.err
}

// CallMany queues items to travel together in one call and waits for their results, in
// order. Errors are as for Call; an empty items is answered at once.
func (b *Batcher[T, R]) CallMany(ctx context.Context, items []T) ([]R, error) {
	if len(items) == 0 {
		return []R{}, ctx.Err()
	}
	req := b.pool.Get().(*request[T, R])
	req.ctx, req.many = ctx, items
	r, err := b.submit(req)
	if err != nil {
		return nil, err
	}
	return r.many, r.err
}

// submit queues req and waits for its reply; an error means it got none (req is released).
func (b *Batcher[T, R]) submit(req *request[T, R]) (reply[R], error) {
	ctx := req.ctx
	if err := ctx.Err(); err != nil {
		b.release(req)
		return reply[R]{}, err
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.release(req)
		return reply[R]{}, ErrClosed
	}
	select {
	case b.queue <- req:
		b.mu.RUnlock()
	default:
		b.mu.RUnlock()
		b.release(req)
		b.overloaded.Add(1)
		return reply[R]{}, ErrOverloaded
	}
	done := ctx.Done()
	if done == nil { // context.Background and friends: a plain receive is cheaper than select
		r := <-req.reply
		b.release(req)
		return r, nil
	}
	select {
	case r := <-req.reply:
		b.release(req)
		return r, nil
	case <-done:
		// The dispatcher may still answer into req.reply, so this request is not reused.
		return reply[R]{}, ctx.Err()
	}
}

// Requests and their reply channels are reused: at a few hundred nanoseconds per item, the
// allocations were a large part of a Batcher's cost.
func (b *Batcher[T, R]) release(req *request[T, R]) {
	var zero T
	req.ctx, req.one, req.many = nil, zero, nil
	b.pool.Put(req)
}

// Close stops accepting items, runs every item already queued, and returns when the last
// batch has been answered. Calling it again is a no-op.
func (b *Batcher[T, R]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.done.Wait()
}

// Stats returns the Batcher's counters.
func (b *Batcher[T, R]) Stats() Stats {
	return Stats{
		Batches:    b.batches.Load(),
		Items:      b.items.Load(),
		Overloaded: b.overloaded.Load(),
		Cancelled:  b.cancelled.Load(),
		Splits:     b.splits.Load(),
		Queued:     len(b.queue),
		Running:    b.running.Load(),
	}
}

func (b *Batcher[T, R]) dispatch() {
	defer b.done.Done()
	batch := make([]*request[T, R], 0, b.opts.MaxBatchSize)
	var timer *time.Timer
	if b.opts.MaxWait > 0 {
		timer = time.NewTimer(time.Hour)
		timer.Stop()
	}
	for {
		first, ok := <-b.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		open := b.gather(&batch, first.size(), timer)
		b.busy.Add(1)
		b.run(batch)
		clear(batch) // let the requests be collected while we wait for the next one
		if !open {
			return
		}
	}
}

// gather adds queued requests to batch until it holds MaxBatchSize items, or MaxWait has
// passed since the first, or (without MaxWait) no other call is running. It reports false when
// the queue has been closed and drained.
func (b *Batcher[T, R]) gather(batch *[]*request[T, R], rows int, timer *time.Timer) bool {
	rows, open := b.drain(batch, rows)
	if !open {
		return false
	}
	if rows >= b.opts.MaxBatchSize {
		return true
	}
	if timer == nil {
		return b.accumulate(batch, rows)
	}
	timer.Reset(b.opts.MaxWait)
	defer timer.Stop()
	for rows < b.opts.MaxBatchSize {
		select {
		case req, ok := <-b.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, req)
			// Whatever queued up meanwhile comes without another wake-up per item.
			if rows, open = b.drain(batch, rows+req.size()); !open {
				return false
			}
		case <-timer.C:
			return true
		}
	}
	return true
}

// accumulate holds a partial batch while another call runs, adding what queues meanwhile,
// until that call ends or the batch is full. An idle Batcher calls at once (no added
// latency); under load one call runs while the next batch grows, so the function's cost per
// call is shared by many items instead of being paid almost per item (two dispatchers taking
// whatever had queued made batches of one or two requests under 32 concurrent clients).
func (b *Batcher[T, R]) accumulate(batch *[]*request[T, R], rows int) bool {
	// Announce the wait before looking at busy; idle lowers busy before looking at waiting,
	// so one of the two sees the other and a call's end is never missed.
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case <-b.ended: // a stale wake-up, from a call that ended before this wait
	default:
	}
	if b.busy.Load() == 0 {
		return true
	}
	for {
		select {
		case req, ok := <-b.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, req)
			var open bool
			if rows, open = b.drain(batch, rows+req.size()); !open {
				return false
			}
			if rows >= b.opts.MaxBatchSize {
				return true
			}
		case <-b.ended:
			return true
		}
	}
}

// drain takes what is already queued, without blocking, until the batch is full (a group may
// overshoot it, as mly's batches do). Under load this is what fills batches. It reports false
// when the queue has been closed and drained.
func (b *Batcher[T, R]) drain(batch *[]*request[T, R], rows int) (int, bool) {
	for rows < b.opts.MaxBatchSize {
		select {
		case req, ok := <-b.queue:
			if !ok {
				return rows, false
			}
			*batch = append(*batch, req)
			rows += req.size()
		default:
			return rows, true
		}
	}
	return rows, true
}

// run makes one call for the batch's live requests and answers each of them.
func (b *Batcher[T, R]) run(batch []*request[T, R]) {
	live := batch[:0:0]
	for _, req := range batch {
		if req.ctx.Err() != nil { // its caller has gone; do not spend the function's time on it
			b.cancelled.Add(int64(req.size()))
			continue
		}
		live = append(live, req)
	}
	if len(live) > 0 {
		b.call(live, true)
	} else {
		b.idle()
	}
}

// idle counts a dispatcher's function returning for the last time for its batch, and wakes a
// dispatcher waiting for that with a partial batch.
func (b *Batcher[T, R]) idle() {
	b.busy.Add(-1)
	if b.waiting.Load() > 0 {
		select {
		case b.ended <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// call runs the function for reqs and answers them; under SplitOnError a failure is narrowed
// down by halves. last marks the batch's final call (its dispatcher is idle once it returns).
func (b *Batcher[T, R]) call(reqs []*request[T, R], last bool) {
	items := make([]T, 0, len(reqs))
	for _, req := range reqs {
		if req.many != nil {
			items = append(items, req.many...)
		} else {
			items = append(items, req.one)
		}
	}
	b.batches.Add(1)
	b.running.Add(1)
	results, err := b.fn(items)
	b.running.Add(-1)
	if err == nil && len(results) != len(items) {
		err = &LengthError{Function: b.name, Items: len(items), Got: len(results)}
	}
	if err != nil && len(reqs) > 1 && b.opts.SplitOnError != nil && b.opts.SplitOnError(err) {
		b.splits.Add(1)
		half := len(reqs) / 2
		b.call(reqs[:half], false)
		b.call(reqs[half:], last)
		return
	}
	if last { // the next batch may go while this one's callers are answered
		b.idle()
	}
	b.items.Add(int64(len(items)))
	offset := 0
	for _, req := range reqs {
		var r reply[R]
		switch {
		case err != nil:
			r.err = err
		case req.many != nil:
			r.many = results[offset : offset+len(req.many) : offset+len(req.many)]
		default:
			r.one = results[offset]
		}
		offset += req.size()
		req.reply <- r
	}
}
