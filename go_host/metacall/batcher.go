package metacall

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// BatcherOptions configures a Batcher. Zero values take the defaults named on each field.
type BatcherOptions struct {
	// MaxBatchSize is the most items one call receives (default 32).
	MaxBatchSize int
	// MaxWait is how long a dispatcher waits after the first item of a batch for more items
	// (default 0: take only what is already queued, never wait).
	MaxWait time.Duration
	// QueueSize bounds the items waiting for a dispatcher (default 1024). When it is full,
	// Call returns ErrOverloaded at once instead of waiting.
	QueueSize int
	// Dispatchers is how many batches may be in flight at once (default 1). More than one is
	// useful when the function releases the GIL (TensorFlow kernels do).
	Dispatchers int
}

// BatcherStats counts what a Batcher has done. The counters only grow.
type BatcherStats struct {
	// Batches is the number of calls made to the function.
	Batches int64
	// Items is the number of items those calls carried.
	Items int64
	// Overloaded is the number of Call attempts refused with ErrOverloaded.
	Overloaded int64
	// Cancelled is the number of items dropped before their batch ran because their context
	// had ended.
	Cancelled int64
}

// batchFunc calls the Python function once with the list of items.
type batchFunc func(function string, items []interface{}) (interface{}, error)

// Batcher coalesces items from many goroutines into few calls of one Python function that
// takes a list and returns a list of the same length (e.g. process_batch).
//
// Many goroutines calling Python one by one queue on the GIL; a Batcher turns them into a
// few large calls, each paying the crossing once. The dispatchers hold no Go lock while the
// function runs.
type Batcher struct {
	function string
	opts     BatcherOptions
	call     batchFunc

	// mu guards closed against the close(queue) in Close; senders hold it for reading only
	// around a non-blocking send, never while Python runs.
	mu     sync.RWMutex
	closed bool
	queue  chan *batchItem
	done   sync.WaitGroup

	batches, items, overloaded, cancelled atomic.Int64
}

type batchItem struct {
	ctx   context.Context
	value interface{}
	reply chan batchReply // buffered (1): a dispatcher never blocks on a caller that left
}

type batchReply struct {
	value interface{}
	err   error
}

// NewBatcher starts a Batcher whose dispatchers call function (through Call) with lists of
// items. Close it when done.
func NewBatcher(function string, opts BatcherOptions) *Batcher {
	return newBatcher(function, opts, func(function string, items []interface{}) (interface{}, error) {
		return Call(function, items)
	})
}

func newBatcher(function string, opts BatcherOptions, call batchFunc) *Batcher {
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = 32
	}
	if opts.MaxWait < 0 {
		opts.MaxWait = 0
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Dispatchers <= 0 {
		opts.Dispatchers = 1
	}
	b := &Batcher{
		function: function,
		opts:     opts,
		call:     call,
		queue:    make(chan *batchItem, opts.QueueSize),
	}
	b.done.Add(opts.Dispatchers)
	for i := 0; i < opts.Dispatchers; i++ {
		go b.dispatch()
	}
	return b
}

// Call queues item for the next batch and waits for its own result. It returns ctx.Err() if
// ctx ends first (the item is then dropped if its batch has not started), ErrOverloaded at
// once if the queue is full, and ErrBatcherClosed after Close. A Python exception raised by
// the batch call is returned to every caller of that batch.
func (b *Batcher) Call(ctx context.Context, item interface{}) (interface{}, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	it := itemPool.Get().(*batchItem)
	it.ctx, it.value = ctx, item
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		it.release()
		return nil, ErrBatcherClosed
	}
	select {
	case b.queue <- it:
		b.mu.RUnlock()
	default:
		b.mu.RUnlock()
		it.release()
		b.overloaded.Add(1)
		return nil, ErrOverloaded
	}
	done := ctx.Done()
	if done == nil { // context.Background and friends: a plain receive is cheaper than select
		r := <-it.reply
		it.release()
		return r.value, r.err
	}
	select {
	case r := <-it.reply:
		it.release()
		return r.value, r.err
	case <-done:
		// The dispatcher may still answer into it.reply, so this item is not reused.
		return nil, ctx.Err()
	}
}

// Items and their reply channels are reused: at a few hundred nanoseconds per item, the
// allocations were a large part of a Batcher's cost.
var itemPool = sync.Pool{New: func() interface{} {
	return &batchItem{reply: make(chan batchReply, 1)}
}}

// release returns an answered item to the pool.
func (it *batchItem) release() {
	it.ctx, it.value = nil, nil
	itemPool.Put(it)
}

// Close stops accepting items, runs every item already queued, and returns when the last
// batch has been answered. Calling it again is a no-op.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.done.Wait()
}

// Stats returns the Batcher's counters.
func (b *Batcher) Stats() BatcherStats {
	return BatcherStats{
		Batches:    b.batches.Load(),
		Items:      b.items.Load(),
		Overloaded: b.overloaded.Load(),
		Cancelled:  b.cancelled.Load(),
	}
}

func (b *Batcher) dispatch() {
	defer b.done.Done()
	batch := make([]*batchItem, 0, b.opts.MaxBatchSize)
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
		open := b.gather(&batch, timer)
		b.run(batch)
		clear(batch) // let the items be collected while we wait for the next one
		if !open {
			return
		}
	}
}

// gather adds queued items to batch until it is full or MaxWait has passed since the first.
// It reports false when the queue has been closed and drained.
func (b *Batcher) gather(batch *[]*batchItem, timer *time.Timer) bool {
	if !b.drain(batch) {
		return false
	}
	if timer == nil || len(*batch) >= b.opts.MaxBatchSize {
		return true
	}
	timer.Reset(b.opts.MaxWait)
	defer timer.Stop()
	for len(*batch) < b.opts.MaxBatchSize {
		select {
		case it, ok := <-b.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, it)
			// Whatever queued up meanwhile comes without another wake-up per item.
			if !b.drain(batch) {
				return false
			}
		case <-timer.C:
			return true
		}
	}
	return true
}

// drain takes what is already queued, without blocking, until the batch is full. Under load
// this is what fills batches. It reports false when the queue has been closed and drained.
func (b *Batcher) drain(batch *[]*batchItem) bool {
	for len(*batch) < b.opts.MaxBatchSize {
		select {
		case it, ok := <-b.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, it)
		default:
			return true
		}
	}
	return true
}

// run makes one call for the batch's live items and answers each of them.
func (b *Batcher) run(batch []*batchItem) {
	live := batch[:0:0]
	values := make([]interface{}, 0, len(batch))
	for _, it := range batch {
		if it.ctx.Err() != nil { // its caller has gone; do not spend Python time on it
			b.cancelled.Add(1)
			continue
		}
		live = append(live, it)
		values = append(values, it.value)
	}
	if len(live) == 0 {
		return
	}
	b.batches.Add(1)
	b.items.Add(int64(len(live)))
	result, err := b.call(b.function, values)
	if err == nil {
		list, isList := result.([]interface{})
		switch {
		case !isList:
			err = &BatchLengthError{Function: b.function, Items: len(live), Got: -1}
		case len(list) != len(live):
			err = &BatchLengthError{Function: b.function, Items: len(live), Got: len(list)}
		default:
			for i, it := range live {
				it.reply <- batchReply{value: list[i]}
			}
			return
		}
	}
	for _, it := range live {
		it.reply <- batchReply{err: err}
	}
}
