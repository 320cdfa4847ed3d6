// Await calls an async Python function; its value or its exception reaches the callbacks.

package metacall

import (
	"errors"
	"fmt"
	"testing"
)

func TestAwaitHandsTheCoroutineValueToItsCallback(t *testing.T) {
	resolve := func(v, ctx interface{}) interface{} { return fmt.Sprint(ctx, ":", v) }
	reject := func(e, ctx interface{}) interface{} {
		var pyErr *PythonError
		if errors.As(e.(error), &pyErr) {
			return fmt.Sprint(ctx, ":", pyErr.Type, ":", pyErr.Message)
		}
		return "not a PythonError"
	}
	got, err := Await("later", resolve, reject, "ok", 5)
	if err != nil || got != "ok:5" {
		t.Fatalf("resolve: (%v, %v)", got, err)
	}
	got, err = Await("later_fail", resolve, reject, "bad", "no")
	if err != nil || got != "bad:RuntimeError:no" {
		t.Fatalf("reject: (%v, %v)", got, err)
	}
	if got, err := Await("later", nil, nil, nil, 7); err != nil || got != int64(7) {
		t.Fatalf("no callbacks: (%v, %v)", got, err)
	}
}
