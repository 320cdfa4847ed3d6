// Every failure is an error value naming its cause: arguments that cannot be converted (with
// their position and path), Python exceptions with type, message and traceback, unknown
// functions; the runtime stays usable after each.

package metacall

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestUnsupportedArgumentsNameTheirPosition(t *testing.T) {
	type onlyPrivate struct{ a int }
	cases := []struct {
		args     []interface{}
		position int
		path     string
		reason   string
	}{
		{[]interface{}{1, make(chan int)}, 1, "", "chan int"},
		{[]interface{}{func() {}}, 0, "", "func()"},
		{[]interface{}{"ok", 2, complex(1, 2)}, 2, "", "complex128"},
		{[]interface{}{onlyPrivate{1}}, 0, "", "no exported fields"},
		{[]interface{}{uint64(math.MaxUint64)}, 0, "", "does not fit"},
		{[]interface{}{[]interface{}{1, map[string]interface{}{"k": make(chan int)}}}, 0, `[1]["k"]`, "chan int"},
		{[]interface{}{map[[2]int]int{{1, 2}: 3}}, 0, "", "map keys"},
		{[]interface{}{map[interface{}]int{[2]int{1, 2}: 3}}, 0, "[[2]int{1, 2}]", "map key"},
		// A string that is not UTF-8 (Python's str is text), wherever it sits.
		{[]interface{}{1, "a\xffb"}, 1, "", "not valid UTF-8 (byte 0xff at offset 1)"},
		{[]interface{}{[]string{"ok", "\xc3("}}, 0, "[1]", "not valid UTF-8"},
		{[]interface{}{map[string]interface{}{"k": []interface{}{"\xe2\x82"}}}, 0, `["k"][0]`, "not valid UTF-8"},
		{[]interface{}{map[string]interface{}{"\xff": 1}}, 0, `["\xff"]`, "not valid UTF-8"},
		{[]interface{}{map[string]int{"ok": 1, "\xff": 2}}, 0, `["\xff"]`, "not valid UTF-8"},
		{[]interface{}{struct{ Name textType }{"\x80"}}, 0, ".Name", "not valid UTF-8"},
	}
	for _, c := range cases {
		got, err := Call("echo", c.args...)
		var argErr *ArgumentError
		if !errors.As(err, &argErr) {
			t.Errorf("%#v: got (%v, %v), want an ArgumentError", c.args, got, err)
			continue
		}
		if argErr.Position != c.position || argErr.Path != c.path || !strings.Contains(argErr.Reason, c.reason) {
			t.Errorf("%#v: got %+v, want position %d path %q reason containing %q", c.args, argErr, c.position, c.path, c.reason)
		}
	}
}

type textType string

// A string that is not UTF-8 is refused before the call, as every bad argument: nothing of the
// call ran (no call counted), and the next call works.
func TestInvalidUTF8IsAnArgumentErrorAndTheNextCallWorks(t *testing.T) {
	_, err := Call("echo", "ok\xff")
	var argErr *ArgumentError
	if !errors.As(err, &argErr) || argErr.Function != "echo" || argErr.Position != 0 {
		t.Fatalf("got %v, want an *ArgumentError for argument 0", err)
	}
	if want := `metacall: echo: argument 0: a string is not valid UTF-8 (byte 0xff at offset 2)`; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
	if got := mustCall(t, "echo", "ok\u00e9"); got != "ok\u00e9" {
		t.Fatalf("the next call: %#v", got)
	}
}

// nestedIn is v inside n lists.
func nestedIn(n int, v interface{}) interface{} {
	for i := 0; i < n; i++ {
		v = []interface{}{v}
	}
	return v
}

// One nesting limit for every host (MaxDepth, the C ABI's MLBRIDGE_MAX_DEPTH): containers count,
// pointers and interfaces do not; the argument past it is refused with its path.
func TestNestingLimitIsTheRuntimes(t *testing.T) {
	if MaxDepth != 200 {
		t.Fatalf("MaxDepth %d: docs/values.md and the conformance table say 200", MaxDepth)
	}
	deepest := nestedIn(MaxDepth, "bottom")
	if got := mustCall(t, "echo", deepest); !reflect.DeepEqual(got, nestedIn(MaxDepth, "bottom")) {
		t.Fatalf("%d levels did not come back", MaxDepth)
	}
	type node struct {
		Next *node `json:"next,omitempty"`
	}
	chain := &node{}
	for i := 1; i < MaxDepth; i++ { // MaxDepth structs, each through a pointer
		chain = &node{Next: chain}
	}
	if _, err := Call("echo", &chain); err != nil {
		t.Fatalf("%d structs behind pointers: %v", MaxDepth, err)
	}
	var argErr *ArgumentError
	_, err := Call("echo", 1, map[string]interface{}{"k": nestedIn(MaxDepth-1, []string{})})
	if !errors.As(err, &argErr) || argErr.Position != 1 || !strings.Contains(argErr.Reason, "nested deeper than 200 levels") ||
		argErr.Path != `["k"]`+strings.Repeat("[0]", MaxDepth-1) {
		t.Fatalf("got %v, want an *ArgumentError for argument 1 at [\"k\"][0]…", err)
	}
	if _, err := Call("echo", &node{Next: chain}); !errors.As(err, &argErr) || !strings.Contains(argErr.Reason, "deeper") {
		t.Fatalf("%d structs: got %v, want an *ArgumentError", MaxDepth+1, err)
	}
	type loop *loop
	var p loop
	p = &p
	if _, err := Call("echo", p); !errors.As(err, &argErr) || !strings.Contains(argErr.Reason, "pointers in a chain") {
		t.Fatalf("a cycle of pointers: got %v, want an *ArgumentError", err)
	}
	// (A result past it is a *PythonError ValueError: the conformance table's results/nested-201-deep.)
	if got := mustCall(t, "echo", "after"); got != "after" {
		t.Fatalf("the next call: %#v", got)
	}
}

func TestCyclicArgumentFailsInsteadOfLooping(t *testing.T) {
	cycle := []interface{}{nil}
	cycle[0] = cycle
	var argErr *ArgumentError
	if _, err := Call("echo", cycle); !errors.As(err, &argErr) || !strings.Contains(argErr.Reason, "deeper") {
		t.Fatalf("got %v, want an ArgumentError about depth", err)
	}
}

// A dict whose keys are not all strings is refused by the runtime (TEAM contract 3), naming
// the key: the upstream port would panic on such a MAP, and formatting keys loses entries.
func TestNonStringDictKeysAreAnErrorNamingTheKey(t *testing.T) {
	cases := map[string]string{
		"non_string_keys": "dict key 1 (int) is not a string",
		"bool_key":        "dict key False (bool) is not a string",
		"colliding_keys":  "dict key 1 (int) is not a string",
		"tuple_key":       "dict key (1, 2) (tuple) is not a string",
	}
	for function, message := range cases {
		got, err := Call(function)
		var pyErr *PythonError
		if !errors.As(err, &pyErr) || pyErr.Type != "TypeError" || !strings.Contains(pyErr.Message, message) {
			t.Errorf("%s: got (%#v, %v), want a TypeError containing %q", function, got, err, message)
		}
	}
	// The next call works.
	if got := mustCall(t, "echo", map[string]interface{}{"a": int64(1)}); !reflect.DeepEqual(got, map[string]interface{}{"a": int64(1)}) {
		t.Errorf("after a refused dict: got %#v", got)
	}
}

func TestUnusableResultsAreErrors(t *testing.T) {
	// The shim refuses Python objects that have no MetaCall value with a TypeError.
	for _, function := range []string{"an_object", "nested_object"} {
		var pyErr *PythonError
		if got, err := Call(function); !errors.As(err, &pyErr) || pyErr.Type != "TypeError" {
			t.Errorf("%s: got (%#v, %v), want a TypeError", function, got, err)
		}
	}
}

func TestPythonExceptionIsAnError(t *testing.T) {
	got, err := Call("fail", "bad input")
	var pyErr *PythonError
	if !errors.As(err, &pyErr) {
		t.Fatalf("got (%#v, %v), want a PythonError", got, err)
	}
	if pyErr.Type != "ValueError" || pyErr.Message != "bad input" || pyErr.Function != "fail" {
		t.Fatalf("got %+v", pyErr)
	}
	if !strings.Contains(pyErr.Traceback, "raise ValueError(message)") {
		t.Fatalf("traceback does not show the raise:\n%s", pyErr.Traceback)
	}
	if !strings.Contains(err.Error(), "ValueError: bad input") {
		t.Fatalf("message %q", err.Error())
	}

	_, err = Call("fail_nested", "k")
	if !errors.As(err, &pyErr) || pyErr.Type != "KeyError" || !strings.Contains(pyErr.Traceback, "inner") {
		t.Fatalf("nested: got %v", err)
	}
	// The runtime stays usable after an exception.
	if got := mustCall(t, "add", 1, 1); got != int64(2) {
		t.Fatalf("after an exception: %#v", got)
	}
}

func TestWrongArgumentCountIsAPythonError(t *testing.T) {
	var pyErr *PythonError
	if _, err := Call("add", 1); !errors.As(err, &pyErr) || pyErr.Type != "TypeError" {
		t.Fatalf("got %v, want a TypeError", err)
	}
}

func TestUnknownFunctionIsAnError(t *testing.T) {
	got, err := Call("no_such_function")
	var pyErr *PythonError
	if !errors.As(err, &pyErr) || pyErr.Type != "LookupError" || pyErr.Function != "no_such_function" ||
		!strings.Contains(err.Error(), "no_such_function") {
		t.Fatalf("got (%v, %v), want a LookupError PythonError naming the function", got, err)
	}
}
