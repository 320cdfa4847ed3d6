package metacall

import "sync"

// encodedItem is one Batcher item already written in the argument tape's format, by its
// caller's goroutine: the batch call copies it into the list argument as it is, so the
// conversion runs in parallel across callers, once, and fails only the caller it belongs to.
type encodedItem struct {
	tape tape
}

var itemTapes = sync.Pool{New: func() interface{} { return &encodedItem{tape: make(tape, 0, 64)} }}

// encodeItem converts item for a Batcher of function; the error is the caller's own.
func encodeItem(function string, item interface{}) (*encodedItem, error) {
	enc := itemTapes.Get().(*encodedItem)
	t, err := enc.tape[:0].encode(item, 1) // depth 1: the item sits inside the list
	enc.tape = t
	if err != nil {
		enc.release()
		return nil, &ArgumentError{Function: function, Position: 0, Path: err.pathString(), Reason: err.reason}
	}
	return enc, nil
}

// release returns the item's tape for reuse once no batch can read it any more.
func (e *encodedItem) release() {
	if cap(e.tape) <= keepBufferLimit {
		itemTapes.Put(e)
	}
}
