package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"mlbridge/go_host/metacall"
)

// Batching defaults for a model whose configuration has neither Batch nor GlobalBatching.
// Without a wait, an idle model is called at once, and under load a batch grows while the
// running call lasts (package batcher: no added latency when idle, large batches under
// load); the second evaluator runs only full batches.
const (
	defaultMaxBatchSize     = 64
	defaultMaxQueuedBatches = 256
	defaultEvaluators       = 2
)

// model is one served model: its fields and the Batcher that coalesces its requests.
type model struct {
	id       string
	fields   map[string]Field
	batcher  *metacall.Batcher
	options  metacall.BatcherOptions
	dictHash atomic.Int64 // as of the last answer (the runtime may reload the model)
	memo     *memo        // nil: every request reaches the runtime (memo.go)
	head     atomic.Pointer[answerHead]
}

// answerHead is the envelope's head for one dictionary hash (formatted once, not per answer).
type answerHead struct {
	dictHash int64
	head     []byte
}

// envelope is the head of a success answer under dictHash (response.go: envelopeHead).
func (m *model) envelope(dictHash int64) []byte {
	if h := m.head.Load(); h != nil && h.dictHash == dictHash {
		return h.head
	}
	h := &answerHead{dictHash: dictHash, head: envelopeHead(dictHash)}
	m.head.Store(h)
	return h.head
}

func newModel(d ModelDescription, limits memoLimits) *model {
	m := &model{id: d.ID, fields: make(map[string]Field, len(d.Fields))}
	if d.MemoTTLMs > 0 {
		m.memo = newMemo(time.Duration(d.MemoTTLMs)*time.Millisecond, limits, metacall.ModelsVersion())
	}
	for _, f := range d.Fields {
		m.fields[f.Name] = f
	}
	m.options = batcherOptions(d.Batch)
	m.batcher = metacall.NewBatcher(d.ID+serveSuffix, m.options)
	m.dictHash.Store(d.DictHash)
	return m
}

// batcherOptions maps mly's Batch settings: MaxBatchSize → requests per model call,
// BatchWaitMicros → MaxWait, MaxEvaluatorConcurrency → concurrent calls, and
// MaxQueuedBatches (× MaxBatchSize requests) → the queue bound past which requests get 429.
// One item is one request, whatever its rows (mly counts rows toward MaxBatchSize): the
// runtime answers each request on its own, so a refused row fails its request only.
func batcherOptions(b *Batch) metacall.BatcherOptions {
	opts := metacall.BatcherOptions{
		MaxBatchSize:     defaultMaxBatchSize,
		MaxQueuedBatches: defaultMaxQueuedBatches,
		Dispatchers:      defaultEvaluators,
	}
	if b == nil {
		return opts
	}
	if b.MaxBatchSize > 0 {
		opts.MaxBatchSize = b.MaxBatchSize
	}
	if b.BatchWaitMicros > 0 {
		opts.MaxWait = time.Duration(b.BatchWaitMicros) * time.Microsecond
	}
	if b.MaxEvaluatorConcurrency > 0 {
		opts.Dispatchers = b.MaxEvaluatorConcurrency
	}
	queued := defaultMaxQueuedBatches
	if b.MaxQueuedBatches > 0 {
		queued = b.MaxQueuedBatches
	}
	opts.QueueSize, opts.MaxQueuedBatches = 0, queued
	return opts
}

// answer is one request's result: the outputs of its rows and the dictionary hash.
type answer struct {
	dictHash int64
	rows     []interface{}
	// keysAgreed: the request gave cache_keys and every one was the runtime's own key.
	keysAgreed bool
}

// evalError carries the HTTP status an evaluation failure maps to.
type evalError struct {
	status int
	msg    string
}

func (e *evalError) Error() string { return e.msg }

// evaluate sends the request's rows through the Batcher (one runtime call per batch of
// requests; the runtime reads through the cache and evaluates the misses together).
func (m *model) evaluate(ctx context.Context, req *evalRequest) (*answer, error) {
	var keys interface{}
	if req.cacheKeys != nil {
		keys = req.cacheKeys
	}
	out, err := m.batcher.Call(ctx, []interface{}{req.rows, keys})
	if err != nil {
		return nil, classify(err)
	}
	switch v := out.(type) {
	case string: // the model refused this request's rows
		return nil, &evalError{http.StatusBadRequest, v}
	case map[string]interface{}: // the model failed on this request's rows
		msg, _ := v["error"].(string)
		return nil, &evalError{http.StatusInternalServerError, "model failure: " + msg}
	case []interface{}:
		// [dictHash, rows], or with the client's cache_keys [dictHash, rows, disagreements]
		if len(v) == 2 || len(v) == 3 {
			hash, okHash := v[0].(int64)
			rows, okRows := v[1].([]interface{})
			if okHash && okRows && len(rows) == len(req.rows) {
				m.dictHash.Store(hash)
				ans := &answer{dictHash: hash, rows: rows}
				if len(v) == 3 {
					ans.keysAgreed = v[2] == int64(0)
				}
				return ans, nil
			}
		}
	}
	return nil, &evalError{http.StatusInternalServerError, fmt.Sprintf("%s%s returned an unexpected %T", m.id, serveSuffix, out)}
}

// classify maps a Batcher or runtime error to its HTTP status.
func classify(err error) *evalError {
	var py *metacall.PythonError
	switch {
	case errors.Is(err, metacall.ErrOverloaded):
		return &evalError{http.StatusTooManyRequests, "the model's queue is full; retry later"}
	case errors.Is(err, metacall.ErrBatcherClosed), errors.Is(err, metacall.ErrDestroyed),
		errors.Is(err, metacall.ErrNotInitialized):
		return &evalError{http.StatusServiceUnavailable, "the server is shutting down"}
	case errors.Is(err, context.DeadlineExceeded):
		return &evalError{http.StatusServiceUnavailable, "the request's deadline passed before the model answered"}
	case errors.Is(err, context.Canceled):
		return &evalError{http.StatusServiceUnavailable, "the request was cancelled"}
	case errors.As(err, &py):
		return &evalError{http.StatusInternalServerError, "model failure: " + py.Type + ": " + py.Message}
	}
	return &evalError{http.StatusInternalServerError, err.Error()}
}
