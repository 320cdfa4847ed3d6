package metacall

/*
#cgo CFLAGS: -Wall -I${SRCDIR}/../../c_shim/include
#cgo LDFLAGS: -L${SRCDIR}/../../build/lib -lmetacall -Wl,-rpath,${SRCDIR}/../../build/lib
#include <stdlib.h>
#include <metacall/metacall.h>
#include <metacall/mlbridge_bench.h>
#include "wire.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// PtrSizeInBytes is the size of a pointer, as in the upstream port.
const PtrSizeInBytes = (32 << uintptr(^uintptr(0)>>63)) >> 3

// DestroyTimeout bounds how long Destroy waits for calls in flight. If they have not finished
// by then, Destroy returns without tearing the runtime down (a call stuck in Python keeps it
// alive), but later calls still fail with ErrDestroyed.
var DestroyTimeout = 30 * time.Second

// closedBit marks a session's in-flight counter once Destroy has begun.
const closedBit = int64(1) << 62

// session is one Initialize…Destroy span. Calls register in its counter, so Destroy knows
// when the last one has left without any lock held across a call.
type session struct {
	inflight atomic.Int64 // calls in flight, | closedBit once Destroy began
	drained  chan struct{}
	once     sync.Once
}

func (s *session) enter() bool {
	if s.inflight.Add(1)&closedBit != 0 {
		s.leave()
		return false
	}
	return true
}

func (s *session) leave() {
	if s.inflight.Add(-1) == closedBit {
		s.once.Do(func() { close(s.drained) })
	}
}

var (
	lifecycle sync.Mutex // serialises Initialize and Destroy; never held by calls
	current   atomic.Pointer[session]
	destroyed atomic.Bool

	// functions caches handles by name: a handle stays valid until Destroy, and a lookup by
	// name costs a crossing. Copy-on-write, so the hot path reads it without a lock.
	functions  atomic.Pointer[map[string]unsafe.Pointer]
	functionMu sync.Mutex // serialises writers of functions
)

// enter registers a call in the running session.
func enter() (*session, error) {
	s := current.Load()
	if s == nil || !s.enter() {
		if destroyed.Load() {
			return nil, ErrDestroyed
		}
		return nil, ErrNotInitialized
	}
	return s, nil
}

// errBufferSize is the room for the message of a failed initialize, load or lookup.
const errBufferSize = 2048

func cError(buf []byte) string {
	for i, b := range buf {
		if b == 0 {
			return string(buf[:i])
		}
	}
	return string(buf)
}

// Initialize starts the embedded Python runtime. Calling it again while running returns nil.
// After Destroy it starts the runtime again; the scripts must then be loaded again.
func Initialize() error {
	lifecycle.Lock()
	defer lifecycle.Unlock()
	if current.Load() != nil {
		return nil
	}
	msg := make([]byte, errBufferSize)
	if rc := C.mlb_initialize((*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg))); rc != 0 {
		return fmt.Errorf("metacall: initialize failed (rc %d): %s", int(rc), cError(msg))
	}
	newGate()
	current.Store(&session{drained: make(chan struct{})})
	destroyed.Store(false)
	return nil
}

// InitializeUnsafe is Initialize; it exists for source compatibility with the upstream port.
func InitializeUnsafe() error { return Initialize() }

// LoadFromFile loads scripts (tag "py") into the global scope. Relative paths are looked up
// in LOADER_SCRIPT_PATH (default: the working directory).
func LoadFromFile(tag string, scripts []string) error {
	if len(scripts) == 0 {
		return errors.New("metacall: LoadFromFile: no scripts given")
	}
	s, err := enter()
	if err != nil {
		return err
	}
	defer s.leave()
	ctag := C.CString(tag)
	defer C.free(unsafe.Pointer(ctag))
	paths := unsafe.Slice((**C.char)(C.malloc(C.size_t(len(scripts))*C.size_t(PtrSizeInBytes))), len(scripts))
	defer C.free(unsafe.Pointer(&paths[0]))
	for i, script := range scripts {
		paths[i] = C.CString(script)
		defer C.free(unsafe.Pointer(paths[i]))
	}
	msg := make([]byte, errBufferSize)
	rc := C.mlb_load_from_file(ctag, &paths[0], C.size_t(len(scripts)),
		(*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg)))
	if rc != 0 {
		return fmt.Errorf("metacall: load %s %q failed: %s", tag, scripts, cError(msg))
	}
	return nil
}

// LoadFromFileUnsafe is LoadFromFile; it exists for source compatibility with upstream.
func LoadFromFileUnsafe(tag string, scripts []string) error { return LoadFromFile(tag, scripts) }

// LoadFromMemory loads a script from its source text into the global scope.
func LoadFromMemory(tag string, buffer string) error {
	s, err := enter()
	if err != nil {
		return err
	}
	defer s.leave()
	ctag := C.CString(tag)
	defer C.free(unsafe.Pointer(ctag))
	cbuf := C.CString(buffer)
	defer C.free(unsafe.Pointer(cbuf))
	msg := make([]byte, errBufferSize)
	// The size counts the terminating NUL, as in upstream.
	rc := C.mlb_load_from_memory(ctag, cbuf, C.size_t(len(buffer)+1),
		(*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg)))
	if rc != 0 {
		return fmt.Errorf("metacall: load %s from memory failed: %s", tag, cError(msg))
	}
	return nil
}

// LoadFromMemoryUnsafe is LoadFromMemory; it exists for source compatibility with upstream.
func LoadFromMemoryUnsafe(tag string, buffer string) error { return LoadFromMemory(tag, buffer) }

// Destroy waits for the calls in flight (at most DestroyTimeout), then shuts the runtime
// down. Calls made after it starts return ErrDestroyed. It never blocks on queued work that
// has not started, and calling it twice, or before Initialize, is a no-op.
func Destroy() {
	lifecycle.Lock()
	defer lifecycle.Unlock()
	s := current.Load()
	if s == nil {
		return
	}
	destroyed.Store(true)
	if s.inflight.Or(closedBit) == 0 {
		s.once.Do(func() { close(s.drained) })
	}
	current.Store(nil)
	timer := time.NewTimer(DestroyTimeout)
	defer timer.Stop()
	select {
	case <-s.drained:
	case <-timer.C:
		// A call is stuck in Python; tearing the runtime down under it could crash the
		// process, so leave it running. New calls already fail with ErrDestroyed.
		return
	}
	functionMu.Lock()
	functions.Store(nil)
	functionMu.Unlock()
	C.metacall_destroy()
}

// DestroyUnsafe is Destroy; it exists for source compatibility with upstream.
func DestroyUnsafe() { Destroy() }

// Call calls a loaded function by name with the arguments converted as described in the
// package documentation. A Python exception comes back as a *PythonError.
func Call(function string, args ...interface{}) (interface{}, error) {
	return call(function, args)
}

// CallUnsafe is Call; it exists for source compatibility with upstream.
func CallUnsafe(function string, args ...interface{}) (interface{}, error) {
	return call(function, args)
}

// CallContext is Call that returns ctx.Err() instead when ctx ends before the call starts,
// including while it waits for its turn at the admission gate (see MaxCallsInFlight). A call
// that has started runs to completion: Python code cannot be interrupted safely from another
// thread.
func CallContext(ctx context.Context, function string, args ...interface{}) (interface{}, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return callWithin(ctx, function, args)
}

// lookup returns the function's handle, from the cache when it has been seen before.
func lookup(function string) (unsafe.Pointer, error) {
	if m := functions.Load(); m != nil {
		if fn, ok := (*m)[function]; ok {
			return fn, nil
		}
	}
	cname := C.CString(function)
	var label [128]byte
	msg := make([]byte, errBufferSize)
	fn := C.mlb_function(cname, (*C.char)(unsafe.Pointer(&label[0])), C.size_t(len(label)),
		(*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg)))
	C.free(unsafe.Pointer(cname))
	if fn == nil {
		// The runtime's reason (e.g. LookupError: function not found: 'name'), read on the
		// thread that made the lookup.
		return nil, &PythonError{Function: function, Type: cError(label[:]), Message: cError(msg)}
	}
	functionMu.Lock()
	old := functions.Load()
	next := make(map[string]unsafe.Pointer, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[function] = fn
	functions.Store(&next)
	functionMu.Unlock()
	return fn, nil
}

func lenOf(m *map[string]unsafe.Pointer) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// callBuffers are reused between calls: the argument tape and the result tape.
type callBuffers struct {
	args tape
	out  []byte
}

const (
	resultBufferSize = 4 << 10
	keepBufferLimit  = 1 << 20 // larger buffers are dropped rather than pooled
)

var bufferPool = sync.Pool{New: func() interface{} {
	return &callBuffers{args: make(tape, 0, 256), out: make([]byte, resultBufferSize)}
}}

func call(function string, args []interface{}) (interface{}, error) {
	return callWithin(nil, function, args)
}

func callWithin(ctx context.Context, function string, args []interface{}) (interface{}, error) {
	s, err := enter()
	if err != nil {
		return nil, err
	}
	defer s.leave()
	g, err := admit(ctx)
	if err != nil {
		return nil, err
	}
	defer g.release()
	fn, err := lookup(function)
	if err != nil {
		return nil, err
	}

	bufs := bufferPool.Get().(*callBuffers)
	defer func() {
		if cap(bufs.args) <= keepBufferLimit && cap(bufs.out) <= keepBufferLimit {
			bufferPool.Put(bufs)
		}
	}()
	t := bufs.args[:0]
	for i, arg := range args {
		var encErr *pathError
		if t, encErr = t.encode(arg, 0); encErr != nil {
			bufs.args = t
			return nil, &ArgumentError{Function: function, Position: i, Path: encErr.pathString(), Reason: encErr.reason}
		}
	}
	bufs.args = t

	var tapePtr *C.uchar
	if len(t) > 0 {
		tapePtr = (*C.uchar)(unsafe.Pointer(&t[0]))
	}
	out := bufs.out
	res := C.mlb_call(fn, tapePtr, C.size_t(len(t)), C.size_t(len(args)),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.size_t(len(out)))
	switch res.status {
	case C.MLB_OK:
	case C.MLB_NO_VALUE:
		return nil, fmt.Errorf("metacall: %s: the runtime returned no value (out of memory?)", function)
	default:
		return nil, fmt.Errorf("metacall: %s: the runtime could not build the arguments (out of memory?)", function)
	}
	needed := int(res.needed)
	if needed > len(out) {
		out = make([]byte, needed)
		C.mlb_encode_pending(res.pending, (*C.uchar)(unsafe.Pointer(&out[0])), C.size_t(len(out)))
		bufs.out = out
	}
	return decodeResult(function, out[:needed])
}

// benchNoop is the floor of the benchmarks: one bare cgo call into the embedded runtime
// (a cffi extern "Python" function of no arguments). It lives here because test files
// cannot use cgo.
func benchNoop() {
	C.mlbridge_bench_noop()
}
