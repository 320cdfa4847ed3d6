// The one runtime every test in this package calls (TestMain), and loading scripts into it.
// The other files hold one concern each: values, errors, concurrency, await, the Batcher,
// the cache, hot reload, Destroy, the gate, input checks and the decoder.

package metacall

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
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

func TestInitializeTwiceIsANoOp(t *testing.T) {
	if err := Initialize(); err != nil {
		t.Fatal(err)
	}
	mustCall(t, "noop")
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
