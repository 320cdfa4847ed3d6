// The cross-host conformance table (tests/conformance/cases.json) through Go's Call,
// CallContext and Await, once and from many goroutines. Over 400 lines because reading the
// table's notation into Go values and matching answers against it are most of it, and serve
// only this runner.

package conformance

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"mlbridge/go_host/metacall"
)

// tablePath is the one table every host reads.
const tablePath = "../../tests/conformance/cases.json"

type errorSpec struct {
	Kind      string   `json:"kind"`
	Type      string   `json:"type"`
	Message   *string  `json:"message"`
	Contains  []string `json:"contains"`
	Traceback string   `json:"traceback"`
	Position  *int     `json:"position"`
}

type expectation struct {
	Result json.RawMessage `json:"result"` // nil when absent; "null" is the value None
	Error  *errorSpec      `json:"error"`
}

type tableCase struct {
	ID     string            `json:"id"`
	Call   string            `json:"call"`
	Args   []json.RawMessage `json:"args"`
	Async  bool              `json:"async"`
	Hosts  []string          `json:"hosts"`
	Why    string            `json:"why"`
	Counts []int64           `json:"counts"`
	expectation
	Python *expectation `json:"python"` // read only to refuse unknown keys
	C      *expectation `json:"c"`
	Go     *expectation `json:"go"`
}

type table struct {
	About  []string    `json:"about"`
	Script string      `json:"script"`
	Cases  []tableCase `json:"cases"`
}

func loadTable(t testing.TB) *table {
	t.Helper()
	data, err := os.ReadFile(tablePath)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var tab table
	if err := dec.Decode(&tab); err != nil {
		t.Fatalf("%s: %v", tablePath, err)
	}
	return &tab
}

func (c *tableCase) forGo() bool {
	if len(c.Hosts) == 0 {
		return true
	}
	for _, h := range c.Hosts {
		if h == "go" {
			return true
		}
	}
	return false
}

// counts is what one Call adds to the function's [calls, errors] counters, the same on every
// host (each host's call is counted once): the table's "counts", or what its expectation
// implies (tests/conformance/README.md); nil when there is no function to count.
func (c *tableCase) counts() []int64 {
	switch {
	case c.Counts != nil:
		return c.Counts
	case strings.IndexByte(c.Call, 0) >= 0:
		return nil
	case c.Error == nil:
		return []int64{1, 0}
	case c.Error.Kind == "exception":
		return []int64{1, 1}
	case c.Error.Kind == "argument":
		return []int64{0, 0}
	}
	return nil
}

// countsOf reads the function's [calls, errors] through the script's counts_of.
func countsOf(name string) ([]int64, error) {
	got, err := metacall.Call("counts_of", name)
	if err != nil {
		return nil, err
	}
	pair, ok := got.([]interface{})
	if !ok || len(pair) != 2 {
		return nil, fmt.Errorf("counts_of(%q) = %#v", name, got)
	}
	calls, _ := pair[0].(int64)
	errs, _ := pair[1].(int64)
	return []int64{calls, errs}, nil
}

func (c *tableCase) expected() expectation {
	if c.Go != nil {
		return *c.Go
	}
	return c.expectation
}

// notation decodes one value of the table's notation (tests/conformance/README.md) keeping
// numbers as json.Number, so that 1 (an int) and 1.0 (a float) stay apart.
func notation(raw json.RawMessage) (interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	err := dec.Decode(&v)
	return v, err
}

// tag is the one "$tag" key of a tagged value, if v is one.
func tag(v map[string]interface{}) (string, interface{}, bool) {
	if len(v) != 1 {
		return "", nil, false
	}
	for k, x := range v {
		if strings.HasPrefix(k, "$") {
			return k[1:], x, true
		}
	}
	return "", nil, false
}

func isFloat(n json.Number) bool { return strings.ContainsAny(string(n), ".eE") }

func specialFloat(name interface{}) (float64, error) {
	switch name {
	case "nan":
		return math.NaN(), nil
	case "inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	}
	return 0, fmt.Errorf("$float %v", name)
}

// goArg is the Go argument a value of the table stands for: ints are int64 (or the int8,
// int16, int32 the table names), floats float64 (or float32), {"$bytes"} a []byte,
// {"$map"} a map[interface{}]interface{}, {"$unconvertible"} a channel.
func goArg(v interface{}) (interface{}, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if isFloat(x) {
			return strconv.ParseFloat(string(x), 64)
		}
		return strconv.ParseInt(string(x), 10, 64)
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, item := range x {
			var err error
			if out[i], err = goArg(item); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]interface{}:
		name, data, tagged := tag(x)
		if !tagged {
			out := make(map[string]interface{}, len(x))
			for k, item := range x {
				var err error
				if out[k], err = goArg(item); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		return taggedArg(name, data)
	}
	return nil, fmt.Errorf("not a value: %#v", v)
}

func taggedArg(name string, data interface{}) (interface{}, error) {
	number, _ := data.(json.Number)
	text, _ := data.(string)
	switch name {
	case "int8", "int16", "int32":
		bits := map[string]int{"int8": 8, "int16": 16, "int32": 32}[name]
		i, err := strconv.ParseInt(string(number), 10, bits)
		switch name {
		case "int8":
			return int8(i), err
		case "int16":
			return int16(i), err
		}
		return int32(i), err
	case "float32":
		if text != "" {
			f, err := specialFloat(text)
			return float32(f), err
		}
		f, err := strconv.ParseFloat(string(number), 32)
		return float32(f), err
	case "float":
		return specialFloat(data)
	case "bytes":
		return hex.DecodeString(text)
	case "utf8":
		b, err := hex.DecodeString(text)
		return string(b), err
	case "repeat":
		return repeated(data)
	case "unconvertible":
		return make(chan int), nil
	case "map":
		pairs, _ := data.([]interface{})
		out := make(map[interface{}]interface{}, len(pairs))
		for _, p := range pairs {
			kv, ok := p.([]interface{})
			if !ok || len(kv) != 2 {
				return nil, fmt.Errorf("$map entry %v", p)
			}
			k, err := goArg(kv[0])
			if err != nil {
				return nil, err
			}
			if out[k], err = goArg(kv[1]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no Go argument for $%s", name)
}

// repeated is the string {"$repeat": [text, times]} stands for.
func repeated(data interface{}) (string, error) {
	pair, _ := data.([]interface{})
	if len(pair) == 2 {
		text, ok := pair[0].(string)
		times, err := strconv.Atoi(fmt.Sprint(pair[1]))
		if ok && err == nil && times >= 0 {
			return strings.Repeat(text, times), nil
		}
	}
	return "", fmt.Errorf("$repeat %v", data)
}

// match says how got differs from the table's value want ("" when it does not).
func match(want, got interface{}, path string) string {
	differs := func() string { return fmt.Sprintf("result%s: got %#v, want %v", path, got, want) }
	switch w := want.(type) {
	case nil:
		if got != nil {
			return differs()
		}
	case bool, string:
		if got != w {
			return differs()
		}
	case json.Number:
		if !isFloat(w) {
			i, _ := w.Int64()
			if g, ok := got.(int64); !ok || g != i {
				return differs()
			}
			return ""
		}
		f, _ := w.Float64()
		return matchFloat(f, got, differs)
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) != len(w) {
			return differs()
		}
		for i := range w {
			if d := match(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case map[string]interface{}:
		if name, data, tagged := tag(w); tagged {
			switch name {
			case "bytes":
				b, _ := hex.DecodeString(data.(string))
				if g, ok := got.([]byte); !ok || !bytes.Equal(g, b) {
					return differs()
				}
				return ""
			case "float":
				f, _ := specialFloat(data)
				return matchFloat(f, got, differs)
			case "repeat":
				text, err := repeated(data)
				if g, ok := got.(string); err != nil || !ok || g != text {
					return fmt.Sprintf("result%s: got %.80q…, want %.80q…", path, got, text)
				}
				return ""
			}
			return fmt.Sprintf("result%s: the table's $%s has no Go result form", path, name)
		}
		g, ok := got.(map[string]interface{})
		if !ok || len(g) != len(w) {
			return differs()
		}
		for k, item := range w {
			inner, present := g[k]
			if !present {
				return fmt.Sprintf("result%s[%q]: missing", path, k)
			}
			if d := match(item, inner, fmt.Sprintf("%s[%q]", path, k)); d != "" {
				return d
			}
		}
	default:
		return fmt.Sprintf("result%s: the table's %#v is not a value", path, want)
	}
	return ""
}

func matchFloat(want float64, got interface{}, differs func() string) string {
	g, ok := got.(float64)
	switch {
	case !ok:
		return differs()
	case math.IsNaN(want):
		if !math.IsNaN(g) {
			return differs()
		}
	case g != want || math.Signbit(g) != math.Signbit(want):
		return differs()
	}
	return ""
}

// checkError says how err differs from spec ("" when it does not).
func checkError(err error, spec *errorSpec) string {
	var message, traceback string
	switch spec.Kind {
	case "exception", "not_found":
		var pyErr *metacall.PythonError
		if !errors.As(err, &pyErr) {
			return fmt.Sprintf("want a *PythonError, got %T: %v", err, err)
		}
		wantType := spec.Type
		if spec.Kind == "not_found" {
			wantType = "LookupError" // the runtime's answer to an unknown name, on C and Go
		}
		if pyErr.Type != wantType {
			return fmt.Sprintf("type %s, want %s (%v)", pyErr.Type, wantType, err)
		}
		message, traceback = pyErr.Message, pyErr.Traceback
	case "argument":
		var argErr *metacall.ArgumentError
		if !errors.As(err, &argErr) {
			return fmt.Sprintf("want an *ArgumentError, got %T: %v", err, err)
		}
		if spec.Position != nil && argErr.Position != *spec.Position {
			return fmt.Sprintf("argument %d named, want %d (%v)", argErr.Position, *spec.Position, err)
		}
		message = err.Error()
	default:
		return "unknown error kind " + spec.Kind
	}
	if spec.Message != nil && message != *spec.Message {
		return fmt.Sprintf("message %q, want %q", message, *spec.Message)
	}
	for _, part := range spec.Contains {
		if !strings.Contains(message, part) {
			return fmt.Sprintf("message %q does not contain %q", message, part)
		}
	}
	if !strings.Contains(traceback, spec.Traceback) {
		return fmt.Sprintf("the traceback does not contain %q:\n%s", spec.Traceback, traceback)
	}
	return ""
}

// goCase is a case of the table for Go with its arguments built and its result decoded.
type goCase struct {
	*tableCase
	args []interface{}
	want interface{} // the expected result, when no error is
}

// goCases are the table's cases for Go; the others are logged with the table's reason.
func goCases(t testing.TB) []goCase {
	t.Helper()
	tab := loadTable(t)
	var cases []goCase
	for i := range tab.Cases {
		c := &tab.Cases[i]
		if !c.forGo() {
			t.Logf("not for Go: %s (%s)", c.ID, c.Why)
			continue
		}
		gc := goCase{tableCase: c, args: make([]interface{}, len(c.Args))}
		for j, raw := range c.Args {
			v, err := notation(raw)
			if err == nil {
				gc.args[j], err = goArg(v)
			}
			if err != nil {
				t.Fatalf("%s: args[%d]: %v", c.ID, j, err)
			}
		}
		if want := c.expected(); want.Error == nil {
			var err error
			if gc.want, err = notation(want.Result); err != nil {
				t.Fatalf("%s: result: %v", c.ID, err)
			}
		}
		cases = append(cases, gc)
	}
	if len(cases) == 0 {
		t.Fatal("no case of the table is for Go")
	}
	return cases
}

// verdict says how one answer differs from the table's ("" when it does not).
func verdict(how string, c goCase, got interface{}, err error) string {
	want := c.expected()
	switch {
	case want.Error != nil && err == nil:
		return fmt.Sprintf("%s: no error; the result was %#v", how, got)
	case want.Error != nil:
		if d := checkError(err, want.Error); d != "" {
			return how + ": " + d
		}
	case err != nil:
		return fmt.Sprintf("%s: %v", how, err)
	default:
		if d := match(c.want, got, ""); d != "" {
			return how + ": " + d
		}
	}
	return ""
}

// run calls c through metacall.Call and metacall.CallContext, and an async case through
// metacall.Await too; what differs from the table.
func run(c goCase) []string {
	var differences []string
	got, err := metacall.Call(c.Call, c.args...)
	if d := verdict("Call", c, got, err); d != "" {
		differences = append(differences, d)
	}
	got, err = metacall.CallContext(context.Background(), c.Call, c.args...)
	if d := verdict("CallContext", c, got, err); d != "" {
		differences = append(differences, d)
	}
	if c.Async {
		got, err = await(c.Call, c.args)
		if d := verdict("Await", c, got, err); d != "" {
			differences = append(differences, d)
		}
	}
	return differences
}

// settled is what Await's callbacks hand back: the value, or the *PythonError.
type settled struct{ value interface{} }

func await(function string, args []interface{}) (interface{}, error) {
	out, err := metacall.Await(function,
		func(v, _ interface{}) interface{} { return settled{v} },
		func(e, _ interface{}) interface{} { return e },
		nil, args...)
	if err != nil {
		return nil, err
	}
	if pyErr, ok := out.(*metacall.PythonError); ok {
		return nil, pyErr
	}
	return out.(settled).value, nil
}

var script string

func TestMain(m *testing.M) {
	data, err := os.ReadFile(tablePath)
	var tab table
	if err == nil {
		err = json.Unmarshal(data, &tab)
	}
	if err == nil {
		script, err = filepath.Abs(filepath.Join(filepath.Dir(tablePath), tab.Script))
	}
	if err == nil {
		err = metacall.Initialize()
	}
	if err == nil {
		err = metacall.LoadFromFile("py", []string{script})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	code := m.Run()
	metacall.Destroy()
	os.Exit(code)
}

// TestTable runs every case of the table that is for Go through metacall.Call and
// metacall.CallContext, and the async ones through metacall.Await too, and checks the
// function's counters.
func TestTable(t *testing.T) {
	cases := goCases(t)
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			want := c.counts()
			var before []int64
			if want != nil {
				var err error
				if before, err = countsOf(c.Call); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range run(c) {
				t.Error(d)
			}
			if want == nil {
				return
			}
			after, err := countsOf(c.Call)
			if err != nil {
				t.Fatal(err)
			}
			// run made the call 2 times (Call, CallContext), 3 with Await for an async case.
			times := int64(2)
			if c.Async {
				times = 3
			}
			calls, errs := after[0]-before[0], after[1]-before[1]
			if calls != times*want[0] || errs != times*want[1] {
				t.Errorf("counted [%d, %d] for %d calls, want %v each", calls, errs, times, want)
			}
		})
	}
	t.Logf("conformance (Go): %d cases", len(cases))
}

// TestTableFromManyGoroutines runs the whole table from 8 goroutines at once: the same
// answers, whatever else is in flight.
func TestTableFromManyGoroutines(t *testing.T) {
	cases := goCases(t)
	const goroutines = 8
	failures := make(chan string, 2*goroutines*len(cases)) // at most Call and Await per case
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range cases {
				for _, d := range run(c) {
					failures <- fmt.Sprintf("goroutine %d: %s: %s", g, c.ID, d)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}
