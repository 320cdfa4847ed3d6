package metacall

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests share one runtime: TestMain initializes it and loads testdata/calls.py. Tests of
// Destroy run in a child process (see runChild) so that they do not end it for the others.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "fresh" {
		os.Exit(m.Run())
	}
	if err := Initialize(); err != nil {
		fmt.Fprintln(os.Stderr, "Initialize:", err)
		os.Exit(1)
	}
	script, err := filepath.Abs("testdata/calls.py")
	if err == nil {
		err = LoadFromFile("py", []string{script})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "LoadFromFile:", err)
		os.Exit(1)
	}
	code := m.Run()
	Destroy()
	os.Exit(code)
}

func mustCall(t testing.TB, function string, args ...interface{}) interface{} {
	t.Helper()
	got, err := Call(function, args...)
	if err != nil {
		t.Fatalf("%s%v: %v", function, args, err)
	}
	return got
}

type point struct {
	X      int     `json:"x"`
	Y      float64 `json:"y,omitempty"`
	Label  string
	Hidden string `json:"-"`
	secret int
}

type named struct {
	point
	Name string `json:"name"`
}

func TestGoValuesArriveAsTheirPythonTypes(t *testing.T) {
	s := "text"
	cases := []struct {
		in   interface{}
		want interface{}
	}{
		{nil, "NoneType"},
		{true, "bool"},
		{int(1), "int"}, {int8(-1), "int"}, {int16(1), "int"}, {int32(1), "int"}, {int64(1), "int"},
		{uint(1), "int"}, {uint8(1), "int"}, {uint16(1), "int"}, {uint32(1), "int"}, {uint64(1), "int"},
		{uintptr(1), "int"},
		{float32(1.5), "float"}, {1.5, "float"},
		{"s", "str"}, {&s, "str"},
		{[]byte("raw"), "bytes"},
		{[]int{1, 2}, []interface{}{"list", "int", "int"}},
		{[2]string{"a", "b"}, []interface{}{"list", "str", "str"}},
		{[]interface{}{1, "a", nil, 2.5}, []interface{}{"list", "int", "str", "NoneType", "float"}},
		{map[string]int{"a": 1}, map[string]interface{}{"dict": []interface{}{"str:a=int"}}},
		{map[int]string{7: "seven"}, map[string]interface{}{"dict": []interface{}{"int:7=str"}}},
		{map[interface{}]bool{"k": true, 3: false}, map[string]interface{}{"dict": []interface{}{"int:3=bool", "str:k=bool"}}},
		{point{X: 1, Label: "p", Hidden: "h", secret: 2}, map[string]interface{}{"dict": []interface{}{"str:Label=str", "str:x=int"}}},
		{&named{point: point{X: 1, Y: 2}, Name: "n"}, map[string]interface{}{"dict": []interface{}{"str:Label=str", "str:name=str", "str:x=int", "str:y=float"}}},
		{struct{}{}, map[string]interface{}{"dict": []interface{}{}}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%T", c.in), func(t *testing.T) {
			got := mustCall(t, "kind", c.in)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("kind(%#v) = %#v, want %#v", c.in, got, c.want)
			}
		})
	}
}

func TestValuesComeBackAsGoTypes(t *testing.T) {
	cases := []struct {
		in, want interface{}
	}{
		{nil, nil},
		{true, true},
		{false, false},
		{int(42), int64(42)},
		{int64(math.MaxInt64), int64(math.MaxInt64)},
		{int64(math.MinInt64), int64(math.MinInt64)},
		{uint64(math.MaxInt64), int64(math.MaxInt64)},
		{int(1) << 40, int64(1) << 40}, // upstream truncated int to 32 bits
		{float32(0.5), 0.5},
		{math.Pi, math.Pi},
		{"héllo ✓", "héllo ✓"},
		{"a\x00b", "a\x00b"}, // upstream stopped at the NUL
		{"", ""},
		{[]byte{0, 1, 255}, []byte{0, 1, 255}},
		{[]byte{}, []byte{}},
		{[]string{"a", "b"}, []interface{}{"a", "b"}},
		{[]interface{}{}, []interface{}{}},
		{[]interface{}{1, []interface{}{"x", nil}}, []interface{}{int64(1), []interface{}{"x", nil}}},
		{map[string]interface{}{"a": 1.5, "b": []int{1}}, map[string]interface{}{"a": 1.5, "b": []interface{}{int64(1)}}},
		{map[string]interface{}{}, map[string]interface{}{}},
		{point{X: 3, Label: "p"}, map[string]interface{}{"x": int64(3), "Label": "p"}},
	}
	for _, c := range cases {
		got := mustCall(t, "echo", c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("echo(%#v) = %#v (%T), want %#v (%T)", c.in, got, got, c.want, c.want)
		}
	}
}

func TestCallPassesEveryArgument(t *testing.T) {
	if got := mustCall(t, "add", 2, int64(3)); got != int64(5) {
		t.Fatalf("add = %#v", got)
	}
	if got := mustCall(t, "count"); got != int64(0) {
		t.Fatalf("count() = %#v", got)
	}
	args := make([]interface{}, 40) // more than the C helper keeps on its stack
	for i := range args {
		args[i] = i
	}
	if got := mustCall(t, "count", args...); got != int64(40) {
		t.Fatalf("count(40 args) = %#v", got)
	}
}

func TestLargeResultsAreReadWhole(t *testing.T) {
	for _, n := range []int{0, resultBufferSize - 100, resultBufferSize, 1 << 20} {
		got, ok := mustCall(t, "text_of_size", n).(string)
		if !ok || len(got) != n || strings.Trim(got, "x") != "" {
			t.Fatalf("text_of_size(%d): got %d bytes", n, len(got))
		}
	}
}

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

func TestLoadFromMemoryAddsFunctions(t *testing.T) {
	// A name of its own per run: a loaded name cannot be loaded again (-count=N).
	name := fmt.Sprintf("from_memory_%d", memoryLoads.Add(1))
	if err := LoadFromMemory("py", "def "+name+"(x):\n    return x + 1\n"); err != nil {
		t.Fatal(err)
	}
	if got := mustCall(t, name, 41); got != int64(42) {
		t.Fatalf("got %#v", got)
	}
	if err := LoadFromMemory("py", "def "+name+"(x):\n    return x\n"); err == nil ||
		!strings.Contains(err.Error(), "Duplicate") {
		t.Fatalf("loading a name twice: got %v", err)
	}
	err := LoadFromMemory("py", "def broken(:\n")
	if err == nil || !strings.Contains(err.Error(), "syntax") {
		t.Fatalf("a syntax error: got %v", err)
	}
}

var memoryLoads atomic.Int64

func TestLoadFromFileReportsProblems(t *testing.T) {
	if err := LoadFromFile("py", nil); err == nil {
		t.Fatal("no scripts: want an error")
	}
	err := LoadFromFile("py", []string{"/nonexistent/script.py"})
	if err == nil || !strings.Contains(err.Error(), "script.py") {
		t.Fatalf("missing file: got %v", err)
	}
}

func TestCallContextChecksTheContextFirst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if got, err := CallContext(ctx, "add", 1, 2); err != nil || got != int64(3) {
		t.Fatalf("live context: (%v, %v)", got, err)
	}
	cancel()
	if _, err := CallContext(ctx, "add", 1, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

func TestThousandGoroutinesGetTheirOwnResults(t *testing.T) {
	errs := inGoroutines(1000, func(i int) error {
		label := fmt.Sprintf("g%d", i)
		got, err := Call("echo", []interface{}{i, label})
		if err != nil {
			return err
		}
		if want := []interface{}{int64(i), label}; !reflect.DeepEqual(got, want) {
			return fmt.Errorf("goroutine %d got %#v", i, got)
		}
		return nil
	})
	for _, err := range errs {
		t.Error(err)
	}
}

func TestSlowCallDoesNotBlockOthers(t *testing.T) {
	// time.sleep releases the GIL: a quick call must not wait for a slow one (upstream ran
	// every call on one locked thread, so it did).
	slow := make(chan error, 1)
	go func() {
		_, err := Call("sleep_then", 1.0, "slow")
		slow <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	mustCall(t, "add", 1, 2)
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Fatalf("a quick call waited %v behind a slow one", elapsed)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
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

func TestInitializeTwiceIsANoOp(t *testing.T) {
	if err := Initialize(); err != nil {
		t.Fatal(err)
	}
	mustCall(t, "noop")
}

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
