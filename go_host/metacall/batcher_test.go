package metacall

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Batcher's own behaviour is tested without Python in package batcher; these tests are
// about what the adapter adds: conversion per caller, Python exceptions, the list result.

type batchAnswer struct {
	got interface{}
	err error
}

// callTogether calls b with every item from its own goroutine and returns the answers in order.
func callTogether(b *Batcher, items []interface{}) []batchAnswer {
	answers := make([]batchAnswer, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.Call(context.Background(), item)
			answers[i] = batchAnswer{got, err}
		}()
	}
	wg.Wait()
	return answers
}

func TestBatcherUnconvertibleItemFailsOnlyItsCaller(t *testing.T) {
	b := NewBatcher("double_all", BatcherOptions{MaxBatchSize: 3, MaxWait: time.Hour})
	defer b.Close()
	bad := map[string]interface{}{"ok": 1, "bad": []interface{}{2, make(chan int)}}
	answers := callTogether(b, []interface{}{1, bad, 3, 4})
	for i, want := range []int64{2, 0, 6, 8} {
		if i == 1 {
			var argErr *ArgumentError
			if err := answers[i].err; !errors.As(err, &argErr) || argErr.Function != "double_all" ||
				argErr.Position != 0 || argErr.Path != `["bad"][1]` || !strings.Contains(argErr.Reason, "chan int") {
				t.Errorf("unconvertible item: got %v, want its own ArgumentError at [\"bad\"][1]", err)
			}
			continue
		}
		if answers[i].err != nil || answers[i].got != want {
			t.Errorf("item %d: got (%v, %v), want %d", i, answers[i].got, answers[i].err, want)
		}
	}
	// The bad item never reached a batch: the other three made one full batch.
	if st := b.Stats(); st.Items != 3 || st.Batches != 1 {
		t.Fatalf("stats %+v: want the 3 good items in one batch", st)
	}
}

func TestBatcherPythonExceptionForOneItemReachesTheWholeBatch(t *testing.T) {
	b := NewBatcher("double_all", BatcherOptions{MaxBatchSize: 4, MaxWait: time.Hour})
	defer b.Close()
	for i, a := range callTogether(b, []interface{}{1, nil, 3, 4}) { // None * 2 raises TypeError
		var pyErr *PythonError
		if !errors.As(a.err, &pyErr) || pyErr.Type != "TypeError" {
			t.Errorf("caller %d: got (%v, %v), want the batch's TypeError", i, a.got, a.err)
		}
	}
}

func TestBatcherIsolateExceptionsFailsOnlyTheRaisingItem(t *testing.T) {
	b := NewBatcher("double_all", BatcherOptions{MaxBatchSize: 4, MaxWait: time.Hour, IsolateExceptions: true})
	defer b.Close()
	answers := callTogether(b, []interface{}{1, nil, 3, 4})
	for i, want := range []int64{2, 0, 6, 8} {
		if i == 1 {
			var pyErr *PythonError
			if !errors.As(answers[i].err, &pyErr) || pyErr.Type != "TypeError" {
				t.Errorf("raising item: got %v, want its TypeError", answers[i].err)
			}
		} else if answers[i].err != nil || answers[i].got != want {
			t.Errorf("item %d: got (%v, %v), want %d", i, answers[i].got, answers[i].err, want)
		}
	}
	if st := b.Stats(); st.Splits != 2 || st.Items != 4 {
		t.Fatalf("stats %+v: want 2 splits (4 → 2+2 → 1+1) and 4 items answered", st)
	}
}

func TestBatcherNonListResultIsALengthError(t *testing.T) {
	b := NewBatcher("count", BatcherOptions{MaxBatchSize: 2, MaxWait: time.Hour}) // returns an int
	defer b.Close()
	for i, a := range callTogether(b, []interface{}{"a", "b"}) {
		var lengthErr *BatchLengthError
		if !errors.As(a.err, &lengthErr) || lengthErr.Got != -1 || lengthErr.Items != 2 {
			t.Errorf("caller %d: got (%v, %v), want a BatchLengthError for a non-list", i, a.got, a.err)
		}
	}
}

func TestBatcherCallManyAnswersARequestsRowsInOrder(t *testing.T) {
	b := NewBatcher("double_all", BatcherOptions{MaxBatchSize: 8, MaxWait: time.Millisecond})
	defer b.Close()
	got, err := b.CallMany(context.Background(), []interface{}{1, 2, 3})
	if err != nil || len(got) != 3 || got[0] != int64(2) || got[1] != int64(4) || got[2] != int64(6) {
		t.Fatalf("CallMany: (%v, %v), want [2 4 6]", got, err)
	}
	_, err = b.CallMany(context.Background(), []interface{}{1, func() {}})
	var argErr *ArgumentError
	if !errors.As(err, &argErr) || argErr.Path != "[1]" {
		t.Fatalf("unconvertible row: got %v, want an ArgumentError at [1]", err)
	}
}

func TestBatcherCallsPython(t *testing.T) {
	b := NewBatcher("double_all", BatcherOptions{MaxBatchSize: 16, MaxWait: time.Millisecond})
	defer b.Close()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.Call(context.Background(), i)
			if err != nil || got != int64(2*i) {
				t.Errorf("item %d: got (%v, %v)", i, got, err)
			}
		}()
	}
	wg.Wait()

	// A Python exception reaches every caller of the batch.
	bad := NewBatcher("double_all", BatcherOptions{MaxBatchSize: 2, MaxWait: time.Hour})
	defer bad.Close()
	errs := make(chan error, 2)
	for _, item := range []interface{}{1, nil} { // None * 2 raises TypeError
		go func() { _, err := bad.Call(context.Background(), item); errs <- err }()
	}
	for i := 0; i < 2; i++ {
		var pyErr *PythonError
		if err := <-errs; !errors.As(err, &pyErr) || pyErr.Type != "TypeError" {
			t.Errorf("got %v, want the TypeError", err)
		}
	}
}
