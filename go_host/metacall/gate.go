package metacall

// #include <metacall/mlbridge.h>
import "C"

import (
	"context"
	"runtime"
	"sync/atomic"
)

// MaxCallsInFlight bounds how many calls are inside the runtime at once; 0 (the default)
// means runtime.GOMAXPROCS(0), and never fewer than 2. Initialize reads it.
//
// Only one thread runs Python at a time (the GIL), and a goroutine that waits for the GIL
// inside a cgo call holds an OS thread: 1,000 goroutines calling at once made 1,000 threads
// queue on the GIL (~80 MB, and a GIL hand-off between them for every call). Past this
// bound calls wait in Go, where waiting costs a parked goroutine; the calls inside still
// overlap wherever Python releases the GIL (TensorFlow's kernels, I/O, time.sleep). The
// floor of 2 keeps one slow call from stalling every other when GOMAXPROCS is 1.
var MaxCallsInFlight = 0

// gate is a counting semaphore whose uncontended path is one atomic add each way (a
// buffered channel cost ~50 ns per call, a fifth of a whole no-op call).
type gate struct {
	free atomic.Int64  // free slots; below zero, minus the number of waiters
	wake chan struct{} // a released slot handed to one waiter
}

var currentGate atomic.Pointer[gate]

func newGate() {
	n := MaxCallsInFlight
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &gate{wake: make(chan struct{}, 1024)}
	g.free.Store(int64(max(n, 2)))
	currentGate.Store(g)
}

// admit waits for a slot of the current gate and returns the gate to release it to; it
// returns ctx.Err() if ctx ends first (ctx may be nil). held reports that the wait was
// counted in the runtime's calls in flight (mlbridge_hold), so that a Destroy meanwhile waits
// for this call too: the caller passes it on to the call, which ends the hold.
func admit(ctx context.Context) (g *gate, held bool, err error) {
	g = currentGate.Load()
	if g.free.Add(-1) >= 0 {
		return g, false, nil
	}
	if C.mlbridge_hold() == 0 {
		g.giveUp()
		return nil, false, lifecycleError()
	}
	if ctx == nil {
		<-g.wake
		return g, true, nil
	}
	select {
	case <-g.wake:
		return g, true, nil
	case <-ctx.Done():
		dropHold()
		g.giveUp()
		return nil, false, ctx.Err()
	}
}

// dropHold ends a hold that admit took without making the call.
func dropHold() { C.mlbridge_release() }

// giveUp withdraws a waiter's claim: a slot will be handed to it, so take it and pass it on.
func (g *gate) giveUp() {
	go func() {
		<-g.wake
		g.release()
	}()
}

func (g *gate) release() {
	if g.free.Add(1) <= 0 {
		g.wake <- struct{}{}
	}
}
