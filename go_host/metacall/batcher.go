package metacall

import (
	"context"
	"errors"
	"strconv"
	"time"

	"mlbridge/go_host/batcher"
)

// BatcherOptions configures a Batcher. Zero values take the defaults named on each field. The
// fields are those of package batcher, whose documentation maps them onto mly's settings.
type BatcherOptions struct {
	// MaxBatchSize is the most items one call receives (default 32; mly MaxBatchSize).
	MaxBatchSize int
	// MaxWait is how long a dispatcher waits after the first item of a batch for more items
	// (mly BatchWaitMicros). The default, 0, adds no fixed wait: an idle Batcher calls at
	// once, and a batch that is not full waits while another call runs (package batcher).
	MaxWait time.Duration
	// QueueSize bounds the items waiting for a dispatcher (default MaxQueuedBatches ×
	// MaxBatchSize, or 1024). When it is full, Call returns ErrOverloaded at once.
	QueueSize int
	// MaxQueuedBatches sizes the queue in full batches (mly MaxQueuedBatches); see QueueSize.
	MaxQueuedBatches int
	// Dispatchers is how many batches may be in flight at once (default 1; mly
	// MaxEvaluatorConcurrency). More than one helps when the function releases the GIL
	// (TensorFlow kernels do).
	Dispatchers int
	// IsolateExceptions, when true, narrows a Python exception raised for a batch down to the
	// callers whose items raise it, by calling halves of the batch again (see package
	// batcher's SplitOnError): only for functions without side effects. When false (the
	// default), every caller of the batch gets the exception.
	IsolateExceptions bool
}

// BatcherStats counts what a Batcher has done (see batcher.Stats).
type BatcherStats = batcher.Stats

// BatchLengthError is returned to every caller of a batch when the function returned a list
// whose length differs from the number of items it was given (Got is -1 when the result was
// not a list).
type BatchLengthError = batcher.LengthError

// Batcher coalesces items from many goroutines into few calls of one Python function that
// takes a list and returns a list of the same length (e.g. process_batch).
//
// Many goroutines calling Python one by one queue on the GIL; a Batcher turns them into a
// few large calls, each paying the crossing once. Each item is converted in its caller's
// goroutine before it is queued, so an item that cannot be converted fails that caller alone,
// with its own *ArgumentError, and never reaches a batch.
type Batcher struct {
	function string
	core     *batcher.Batcher[interface{}, interface{}]
}

// NewBatcher starts a Batcher whose dispatchers call function with lists of items. Close it
// when done.
func NewBatcher(function string, opts BatcherOptions) *Batcher {
	callBatch := func(items []interface{}) ([]interface{}, error) {
		result, err := call(function, []interface{}{items})
		if err != nil {
			return nil, err
		}
		list, ok := result.([]interface{})
		if !ok {
			return nil, &BatchLengthError{Function: function, Items: len(items), Got: -1}
		}
		return list, nil
	}
	coreOpts := batcher.Options{
		MaxBatchSize:     opts.MaxBatchSize,
		MaxWait:          opts.MaxWait,
		QueueSize:        opts.QueueSize,
		MaxQueuedBatches: opts.MaxQueuedBatches,
		Dispatchers:      opts.Dispatchers,
	}
	if opts.IsolateExceptions {
		coreOpts.SplitOnError = func(err error) bool {
			var pyErr *PythonError
			return errors.As(err, &pyErr)
		}
	}
	return &Batcher{function: function, core: batcher.New(function, callBatch, coreOpts)}
}

// Call converts item, queues it for the next batch and waits for its own result. It returns
// an *ArgumentError (Position 0, the list; Path inside this item) at once if item cannot be
// converted, ctx.Err() if ctx ends first (the item is then dropped if its batch has not
// started), ErrOverloaded at once if the queue is full, and ErrBatcherClosed after Close. A
// Python exception raised by the batch call is returned to every caller of that batch unless
// IsolateExceptions is set.
func (b *Batcher) Call(ctx context.Context, item interface{}) (interface{}, error) {
	enc, err := encodeItem(b.function, item)
	if err != nil {
		return nil, err
	}
	result, err := b.core.Call(ctx, enc)
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		enc.release() // answered, refused or never queued: no batch reads it any more
	}
	return result, err
}

// CallMany converts items, queues them to travel together in one call and waits for their
// results, in order (the rows of one request). An item that cannot be converted fails this
// call alone with an *ArgumentError whose Path starts with the item's index; other errors are
// as for Call.
func (b *Batcher) CallMany(ctx context.Context, items []interface{}) ([]interface{}, error) {
	encoded := make([]interface{}, len(items))
	release := func() {
		for _, enc := range encoded {
			if enc != nil {
				enc.(*encodedItem).release()
			}
		}
	}
	for i, item := range items {
		enc, err := encodeItem(b.function, item)
		if err != nil {
			release()
			argErr := err.(*ArgumentError)
			argErr.Path = "[" + strconv.Itoa(i) + "]" + argErr.Path
			return nil, argErr
		}
		encoded[i] = enc
	}
	results, err := b.core.CallMany(ctx, encoded)
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		release()
	}
	return results, err
}

// Close stops accepting items, runs every item already queued, and returns when the last
// batch has been answered. Calling it again is a no-op.
func (b *Batcher) Close() { b.core.Close() }

// Stats returns the Batcher's counters.
func (b *Batcher) Stats() BatcherStats { return b.core.Stats() }
