package metacall

import (
	"errors"
	"fmt"
	"strings"

	"mlbridge/go_host/batcher"
)

// Lifecycle errors. Compare with errors.Is.
var (
	// ErrNotInitialized is returned by calls made before Initialize.
	ErrNotInitialized = errors.New("metacall: not initialized (call Initialize first)")
	// ErrDestroyed is returned by every call made after Destroy has started.
	ErrDestroyed = errors.New("metacall: runtime destroyed")
	// ErrOverloaded is returned by Batcher.Call at once when the Batcher's queue is full.
	ErrOverloaded = batcher.ErrOverloaded
	// ErrBatcherClosed is returned by Batcher.Call after Close.
	ErrBatcherClosed = batcher.ErrClosed
)

// PythonError is a Python exception raised by a called function (or by the runtime while
// dispatching the call, e.g. an unknown function name or a wrong number of arguments).
// Use errors.As to get at its fields.
type PythonError struct {
	// Function is the name that was called.
	Function string
	// Type is the Python exception type name, e.g. "ValueError".
	Type string
	// Message is str(exception).
	Message string
	// Traceback is the formatted Python traceback, when the runtime provides one.
	Traceback string
	// Code is the exception code carried by the C ABI (0 for most Python exceptions).
	Code int64
}

func (e *PythonError) Error() string {
	var b strings.Builder
	b.WriteString("metacall: ")
	if e.Function != "" {
		b.WriteString(e.Function)
		b.WriteString(": ")
	}
	if e.Type != "" {
		b.WriteString(e.Type)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ArgumentError says which argument of a call could not be converted to a runtime value.
type ArgumentError struct {
	// Function is the name that was called.
	Function string
	// Position is the zero-based index of the argument; -1 when the function name itself is
	// the problem (it contains a NUL byte).
	Position int
	// Path locates the offending value inside the argument, e.g. `[3]["name"]`; empty when the
	// argument itself is the problem.
	Path string
	// Reason says what is wrong, e.g. "unsupported type chan int".
	Reason string
}

func (e *ArgumentError) Error() string {
	if e.Position < 0 { // the function name itself
		return fmt.Sprintf("metacall: %q: %s", e.Function, e.Reason)
	}
	return fmt.Sprintf("metacall: %s: argument %d%s: %s", e.Function, e.Position, e.Path, e.Reason)
}

// ResultError says that a function's result could not be converted to a Go value (a Python
// object of a type the C ABI has no Go counterpart for, or an unusable map key).
type ResultError struct {
	// Function is the name that was called.
	Function string
	// Path locates the offending value inside the result; empty for the result itself.
	Path string
	// Reason says what is wrong.
	Reason string
}

func (e *ResultError) Error() string {
	where := "result"
	if e.Path != "" {
		where = "result" + e.Path
	}
	return fmt.Sprintf("metacall: %s: %s: %s", e.Function, where, e.Reason)
}

// pathError is a conversion failure (of an argument or of a result) with the path to the
// offending value, built innermost first as the conversion unwinds.
type pathError struct {
	path   []string // innermost first
	reason string
}

func (e *pathError) at(step string) *pathError {
	e.path = append(e.path, step)
	return e
}

func (e *pathError) pathString() string {
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteString(e.path[i])
	}
	return b.String()
}
