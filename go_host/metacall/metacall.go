package metacall

/*
#cgo CFLAGS: -Wall -I${SRCDIR}/../../c_shim/include
#cgo LDFLAGS: -L${SRCDIR}/../../build/lib -lmetacall -Wl,-rpath,${SRCDIR}/../../build/lib
// Neither calls back into Go, and neither keeps a pointer it is given: cgo can skip the
// bookkeeping for callbacks and leave the buffers where they are.
#cgo nocallback mlbridge_tape_call
#cgo noescape mlbridge_tape_call
#cgo nocallback mlbridge_bench_noop
#include <metacall/metacall.h>
#include <metacall/mlbridge.h>
#include <metacall/mlbridge_bench.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// PtrSizeInBytes is the size of a pointer, as in the upstream port.
const PtrSizeInBytes = (32 << uintptr(^uintptr(0)>>63)) >> 3

// DestroyTimeout bounds how long Destroy waits for calls in flight; then the runtime's
// function table is cleared anyway (a call still running keeps its own function and finishes
// with its own result). It is the C ABI's one destroy timeout (metacall_destroy waits as long
// by default), passed to it by Destroy.
var DestroyTimeout = time.Duration(C.MLBRIDGE_DESTROY_TIMEOUT_MS) * time.Millisecond

// MaxDepth is the nesting limit of every host (the C ABI's MLBRIDGE_MAX_DEPTH): at most this
// many containers (slices, arrays, maps, structs) inside one another in an argument or a
// result. A deeper (or cyclic) argument is an *ArgumentError, a deeper result a *PythonError
// ValueError. Pointers and interfaces are not levels.
const MaxDepth = C.MLBRIDGE_MAX_DEPTH

// The package's lifecycle as Go sees it. It only chooses between ErrNotInitialized and
// ErrDestroyed and spares a crossing: the runtime counts the calls in flight and refuses
// calls after Destroy (one count for every host).
const (
	neverInitialized int32 = iota
	running
	destroyed
)

var (
	lifecycle sync.Mutex // serialises Initialize and Destroy; never held by calls
	state     atomic.Int32
)

// lifecycleError is the error of a call that the runtime refused as not initialized.
func lifecycleError() error {
	if state.Load() == destroyed {
		return ErrDestroyed
	}
	return ErrNotInitialized
}

// cFailure is the reason of the last failure on this OS thread ("Label: message"), or
// ErrNotInitialized / ErrDestroyed when that was the reason. The caller must hold its OS
// thread (runtime.LockOSThread) since the call that failed: the runtime records errors per
// thread.
func cFailure() error {
	var ex C.struct_metacall_exception_type
	if C.metacall_error_last(&ex) != 0 {
		return errors.New("no reason recorded")
	}
	label, message := C.GoString(ex.label), C.GoString(ex.message)
	if label == "mlbridge.NotInitialized" {
		return lifecycleError()
	}
	if label == "" {
		return errors.New(message)
	}
	return errors.New(label + ": " + message)
}

// nulError is the *ArgumentError for a NUL byte in a name, tag or path: C strings would
// stop there and the runtime would use another name than the one given.
func nulError(function string, position int, path, what string) error {
	return &ArgumentError{Function: function, Position: position, Path: path, Reason: what + " contains a NUL byte"}
}

// Initialize starts the embedded Python runtime. Calling it again while running returns nil.
// After Destroy it starts the runtime again; the scripts must then be loaded again.
func Initialize() error {
	lifecycle.Lock()
	defer lifecycle.Unlock()
	if state.Load() == running {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.metacall_error_clear()
	if rc := C.metacall_initialize(); rc != 0 {
		return fmt.Errorf("metacall: initialize failed (rc %d): %v", int(rc), cFailure())
	}
	newGate()
	state.Store(running)
	return nil
}

// InitializeUnsafe is Initialize; it exists for source compatibility with the upstream port.
func InitializeUnsafe() error { return Initialize() }

// LoadFromFile loads scripts (tag "py") into the global scope. Relative paths are looked up
// in LOADER_SCRIPT_PATH (default: the working directory). A tag or path with a NUL byte is
// an *ArgumentError (Function "LoadFromFile", Position 0 for the tag, 1 for the scripts).
func LoadFromFile(tag string, scripts []string) error {
	if len(scripts) == 0 {
		return errors.New("metacall: LoadFromFile: no scripts given")
	}
	if strings.IndexByte(tag, 0) >= 0 {
		return nulError("LoadFromFile", 0, "", "the tag")
	}
	for i, script := range scripts {
		if strings.IndexByte(script, 0) >= 0 {
			return nulError("LoadFromFile", 1, fmt.Sprintf("[%d]", i), "the path")
		}
	}
	if state.Load() != running {
		return lifecycleError()
	}
	ctag := C.CString(tag)
	defer C.free(unsafe.Pointer(ctag))
	paths := unsafe.Slice((**C.char)(C.malloc(C.size_t(len(scripts))*C.size_t(PtrSizeInBytes))), len(scripts))
	defer C.free(unsafe.Pointer(&paths[0]))
	for i, script := range scripts {
		paths[i] = C.CString(script)
		defer C.free(unsafe.Pointer(paths[i]))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.metacall_error_clear()
	if rc := C.metacall_load_from_file(ctag, &paths[0], C.size_t(len(scripts)), nil); rc != 0 {
		err := cFailure()
		if err == ErrDestroyed || err == ErrNotInitialized {
			return err
		}
		return fmt.Errorf("metacall: load %s %q failed: %v", tag, scripts, err)
	}
	return nil
}

// LoadFromFileUnsafe is LoadFromFile; it exists for source compatibility with upstream.
func LoadFromFileUnsafe(tag string, scripts []string) error { return LoadFromFile(tag, scripts) }

// LoadFromMemory loads a script from its source text into the global scope. The text is
// passed whole: a NUL inside it reaches Python's compile(), which refuses it. A tag with a
// NUL byte is an *ArgumentError.
func LoadFromMemory(tag string, buffer string) error {
	if strings.IndexByte(tag, 0) >= 0 {
		return nulError("LoadFromMemory", 0, "", "the tag")
	}
	if state.Load() != running {
		return lifecycleError()
	}
	ctag := C.CString(tag)
	defer C.free(unsafe.Pointer(ctag))
	cbuf := C.CString(buffer) // copies every byte, NULs included, and adds one
	defer C.free(unsafe.Pointer(cbuf))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.metacall_error_clear()
	// The size counts the terminating NUL, as in upstream.
	if rc := C.metacall_load_from_memory(ctag, cbuf, C.size_t(len(buffer)+1), nil); rc != 0 {
		err := cFailure()
		if err == ErrDestroyed || err == ErrNotInitialized {
			return err
		}
		return fmt.Errorf("metacall: load %s from memory failed: %v", tag, err)
	}
	return nil
}

// LoadFromMemoryUnsafe is LoadFromMemory; it exists for source compatibility with upstream.
func LoadFromMemoryUnsafe(tag string, buffer string) error { return LoadFromMemory(tag, buffer) }

// Destroy waits for the calls in flight (at most DestroyTimeout), then clears the runtime's
// function table. Calls made after it starts return ErrDestroyed. It never blocks on queued
// work that has not started, and calling it twice, or before Initialize, is a no-op.
func Destroy() {
	lifecycle.Lock()
	defer lifecycle.Unlock()
	if state.Load() != running {
		return
	}
	state.Store(destroyed)
	C.mlbridge_destroy(C.long(DestroyTimeout.Milliseconds()))
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

func call(function string, args []interface{}) (interface{}, error) {
	return callWithin(nil, function, args)
}

// emptyName is where the name "" points in a call: unsafe.StringData("") is nil.
var emptyName [1]C.char

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

func callWithin(ctx context.Context, function string, args []interface{}) (interface{}, error) {
	if strings.IndexByte(function, 0) >= 0 {
		return nil, nulError(function, -1, "", "the function name")
	}
	if state.Load() != running {
		return nil, lifecycleError()
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

	g, held, err := admit(ctx)
	if err != nil {
		return nil, err
	}
	cheld := C.int(0)
	if held {
		cheld = 1
	}
	var tapePtr *C.uchar
	if len(t) > 0 {
		tapePtr = (*C.uchar)(unsafe.Pointer(&t[0]))
	}
	out := bufs.out
	name := (*C.char)(unsafe.Pointer(unsafe.StringData(function)))
	if name == nil { // "" has no data: the runtime reads a NULL name as no name at all
		name = &emptyName[0]
	}
	res := C.mlbridge_tape_call(name, C.size_t(len(function)),
		tapePtr, C.size_t(len(t)), C.size_t(len(args)),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.size_t(len(out)), cheld)
	g.release()
	switch res.status {
	case C.MLBRIDGE_TAPE_OK:
	case C.MLBRIDGE_TAPE_NOT_INITIALIZED:
		return nil, lifecycleError()
	default:
		return nil, fmt.Errorf("metacall: %s: the runtime ran out of memory for the result", function)
	}
	if res.heap != nil { // the result did not fit in out: decode it from C memory, then free it
		defer C.free(unsafe.Pointer(res.heap))
		return decodeResult(function, unsafe.Slice((*byte)(unsafe.Pointer(res.heap)), int(res.length)))
	}
	return decodeResult(function, out[:res.length])
}

// benchNoop is the floor of the benchmarks: one bare cgo call into the embedded runtime
// (a cffi extern "Python" function of no arguments). It lives here because test files
// cannot use cgo.
func benchNoop() {
	C.mlbridge_bench_noop()
}
