// Package metacall calls Python functions loaded into mlbridge's one embedded runtime, with
// the API of MetaCall's Go port (github.com/metacall/core/source/ports/go_port/source): a
// program written for MetaCall compiles after changing its import path to
// mlbridge/go_host/metacall.
//
//	if err := metacall.Initialize(); err != nil { … }
//	defer metacall.Destroy()
//	if err := metacall.LoadFromFile("py", []string{"wine_sentiment.py"}); err != nil { … }
//	result, err := metacall.Call("process_batch", []string{"ripe and fruity"})
//
// # Contract
//
// Call may be used from any number of goroutines at once. There is no dispatcher goroutine
// and no locked OS thread: each call enters the runtime from its own thread, and the runtime
// holds Python's GIL only while Python code runs. No Go lock is held while Python runs.
// Many goroutines calling one by one still queue on the GIL; the Batcher turns their items
// into few calls of a list-taking function.
//
// A Python exception is returned as a *PythonError carrying the exception's type name,
// message and traceback (use errors.As). A Go value that cannot be converted is an
// *ArgumentError naming the argument's position; a result that has no Go counterpart is a
// *ResultError. A call never returns (nil, nil) for a failure.
//
// Destroy waits for the calls in flight and then shuts the runtime down; calls made after it
// has started return ErrDestroyed. Destroy may be called twice, or before Initialize.
//
// # Values
//
// Arguments: nil, bool, every integer kind, float32/float64, string, []byte, slices, arrays,
// maps with string, integer, float or bool keys, structs (their exported fields, named as
// encoding/json names them) and pointers to these. Results: nil, bool, int64, float64,
// string, []byte, []interface{}, map[string]interface{}. The full table for every host, and
// what is refused with which error, is docs/values.md in the repository.
//
// # Linking
//
// The package's #cgo lines point at the repository layout: headers in c_shim/include and
// libmetacall.so in build/lib (built by `make shim`), with an rpath, so `go test ./...` works
// in the repository with no environment. For another layout set, for example (the go
// command puts these before the package's own flags, so they take precedence),
//
//	CGO_CFLAGS="-I/opt/mlbridge/include"
//	CGO_LDFLAGS="-L/opt/mlbridge/lib -Wl,-rpath,/opt/mlbridge/lib"
//
// (or LD_LIBRARY_PATH at run time instead of the rpath).
package metacall
