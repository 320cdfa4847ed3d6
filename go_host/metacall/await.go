package metacall

import "errors"

// awaitCallback is upstream's callback type: (value, ctx) → anything.
type awaitCallback func(interface{}, interface{}) interface{}

// Await calls an async Python function (or any function) and hands its value to resolve, or
// its exception (a *PythonError) to reject, each with ctx; it returns what the callback
// returned. It keeps upstream's signature, but the callbacks run on the calling goroutine
// before Await returns (the runtime waits for the coroutine on its event loop), not later on
// a Python thread. A nil callback leaves the value or the error as Await's own result.
func Await(function string, resolve, reject awaitCallback, ctx interface{}, args ...interface{}) (interface{}, error) {
	value, err := call(function, args)
	var pyErr *PythonError
	switch {
	case err == nil && resolve != nil:
		return resolve(value, ctx), nil
	case err == nil:
		return value, nil
	case errors.As(err, &pyErr) && reject != nil:
		return reject(pyErr, ctx), nil
	}
	return nil, err
}

// AwaitUnsafe is Await; it exists for source compatibility with upstream.
func AwaitUnsafe(function string, resolve, reject awaitCallback, ctx interface{}, args ...interface{}) (interface{}, error) {
	return Await(function, resolve, reject, ctx, args...)
}
