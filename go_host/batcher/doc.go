// Package batcher coalesces items from many goroutines into few calls of one function that
// takes a list and returns a list of the same length (a model's process_batch, say).
//
// It is pure Go and knows nothing of Python: the function is any Func. Package metacall wraps
// it as metacall.NewBatcher, whose Func is one call into the embedded runtime.
//
//	b := batcher.New("double", func(items []int) ([]int, error) { … }, batcher.Options{MaxBatchSize: 32})
//	defer b.Close()
//	got, err := b.Call(ctx, 21)
//
// # Contract
//
// Call queues one item and waits for its own result; CallMany queues several items of one
// caller that travel together in one call (the rows of one HTTP request). Dispatcher
// goroutines take queued items, up to MaxBatchSize of them, waiting at most MaxWait after the
// first for more (or, without MaxWait, while another call runs), and make one call per batch. The dispatchers hold no lock while the function
// runs. A full queue refuses at once with ErrOverloaded instead of waiting; Close answers
// everything already queued and then refuses with ErrClosed.
//
// A caller whose context ends while its items are still queued gets ctx.Err() and its items
// are dropped before their batch runs (Stats.Cancelled); once the call has started it runs to
// completion and the answer is discarded.
//
// # Batches under load
//
// Without MaxWait a Batcher adds no fixed wait, and still builds large batches under load: a
// dispatcher whose batch is not full while another call runs holds it, adding whatever
// queues meanwhile, until that call returns (or the batch fills). When idle, an item is called
// at once; under load one call runs while the next batch grows, so the function's cost per
// call is shared by many items. A full batch goes at once, up to Dispatchers calls at a time.
// With MaxWait set, the window below decides instead, as mly's does.
//
// # When the function fails
//
// A Func error is returned to every caller of that batch: the function ran once for all of
// them and one result cannot be told from another. A result list whose length differs from
// the number of items is a *LengthError, also for every caller of the batch.
//
// With Options.SplitOnError set, a failed batch of more than one caller is instead split in
// two halves that are called again, recursively, so an error that one item causes reaches only
// that item's caller and the others get their results. That re-runs items (only for functions
// without side effects) and costs extra calls: about 2·log2(n) for one failing item in a batch
// of n, and 2n−1 when every item fails, so the predicate should accept only errors an item can
// cause (package metacall accepts Python exceptions, not a destroyed runtime).
//
// # mly's batching settings
//
// The fields of Options map one to one onto viant/mly's per-model BatcherConfig:
//
//	mly                       Options
//	MaxBatchSize              MaxBatchSize  (mly's 0, unbounded, has no equivalent: choose a cap)
//	BatchWaitMicros           MaxWait = BatchWaitMicros × time.Microsecond. Like mly's, the
//	                          window is fixed and opened by a batch's first item. mly's <0
//	                          means 0, dispatch at once; MaxWait 0 dispatches at once when no
//	                          other call runs (see Batches under load).
//	MaxEvaluatorConcurrency   Dispatchers   (batches running at once; mly's 0, unbounded, needs
//	                          a number here)
//	MaxQueuedBatches          MaxQueuedBatches: items beyond MaxQueuedBatches full batches
//	                          waiting are refused with ErrOverloaded (mly answers 429).
//
// mly counts a request of N rows as N rows of a batch; so does CallMany. Stats carries mly's
// meta/stats figures: Running (active evaluators) and Queued (batch queue length).
package batcher
