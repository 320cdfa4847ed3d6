package metacall

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// A NUL byte in a name, tag or path is an *ArgumentError: C strings would stop at it, and the
// runtime would call or load something else than what was asked ("echo\x00x" called echo).
func TestNULInANameTagOrPathIsAnArgumentError(t *testing.T) {
	var argErr *ArgumentError
	if got, err := Call("echo\x00anything", 1); !errors.As(err, &argErr) || argErr.Position != -1 ||
		!strings.Contains(argErr.Reason, "NUL") {
		t.Errorf("Call with a NUL in the name: got (%v, %v), want an ArgumentError", got, err)
	}
	if err := LoadFromFile("py", []string{"testdata/calls.py\x00.x"}); !errors.As(err, &argErr) ||
		argErr.Position != 1 || argErr.Path != "[0]" {
		t.Errorf("LoadFromFile with a NUL in a path: got %v, want an ArgumentError at [0]", err)
	}
	if err := LoadFromFile("py\x00", []string{"calls.py"}); !errors.As(err, &argErr) || argErr.Position != 0 {
		t.Errorf("LoadFromFile with a NUL in the tag: got %v", err)
	}
	if err := LoadFromMemory("py\x00x", "def f(): pass\n"); !errors.As(err, &argErr) || argErr.Position != 0 {
		t.Errorf("LoadFromMemory with a NUL in the tag: got %v", err)
	}
	// Script text is passed whole: compile() refuses the NUL, so nothing before it loads.
	if err := LoadFromMemory("py", "def before_nul():\n    return 1\n\x00def after_nul():\n    return 2\n"); err == nil ||
		!strings.Contains(err.Error(), "null bytes") {
		t.Errorf("a script with a NUL inside: got %v, want compile()'s refusal", err)
	}
	var pyErr *PythonError
	if _, err := Call("before_nul"); !errors.As(err, &pyErr) || pyErr.Type != "LookupError" {
		t.Errorf("the part before the NUL was loaded: %v", err)
	}
	if got := mustCall(t, "echo", "a\x00b"); got != "a\x00b" { // values keep their NULs
		t.Errorf("echo of a string with a NUL: got %q", got)
	}
}

// Map keys that are equal in Python (1, 1.0 and true are one dict key) would merge silently.
func TestMapKeysEqualInPythonAreAnArgumentError(t *testing.T) {
	var argErr *ArgumentError
	for _, m := range []map[interface{}]interface{}{
		{1: "int", 1.0: "float"},
		{true: "bool", int8(1): "int8"},
		{"x": map[interface{}]int{uint(2): 1, float32(2): 2}},
	} {
		_, err := Call("echo", m)
		if !errors.As(err, &argErr) || !strings.Contains(argErr.Reason, "are equal in Python") {
			t.Errorf("%v: got %v, want an ArgumentError naming the equal keys", m, err)
		}
	}
	// Keys that differ in Python still travel (and 1.5 is not 1).
	got := mustCall(t, "kind", map[interface{}]interface{}{"1": "str", 1.5: "float", 2: "int"})
	want := map[string]interface{}{"dict": []interface{}{"float:1.5=str", "int:2=str", "str:1=str"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("distinct keys: got %#v, want %#v", got, want)
	}
}

// Every Go call counts in the function's [calls, errors], the same counters as C's and
// Python's (TEAM contract 4).
func TestCallsAreCountedInTheRuntimesCounters(t *testing.T) {
	counts := func(name string) []interface{} {
		return mustCall(t, "counts_of", name).([]interface{})
	}
	before := counts("fail")
	for i := 0; i < 3; i++ {
		if _, err := Call("fail", "x"); err == nil {
			t.Fatal("fail did not fail")
		}
	}
	after := counts("fail")
	want := []interface{}{before[0].(int64) + 3, before[1].(int64) + 3}
	if !reflect.DeepEqual(after, want) {
		t.Errorf("fail's counters went from %v to %v, want %v", before, after, want)
	}
}
