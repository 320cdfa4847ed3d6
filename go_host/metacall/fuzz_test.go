// The Go argument encoder under go test -fuzz (FuzzCallRoundTrip, below). Over 400 lines
// because the value generator and the model of the conversion rules it checks against must
// agree with each other, so they are kept together.

package metacall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCallRoundTrip builds Go values from the fuzzer's bytes (nesting past the encoder's depth
// bound, maps with keys of every kind and keys equal in Python, strings with NULs and invalid
// UTF-8, integers at the 64-bit limits, NaN and infinities, byte slices, typed slices,
// pointers), calls the runtime's echo with them, and checks the answer against a model of the
// conversion rules (docs/values.md): either the error the model predicts or a faithful round trip.
// A panic, a crash, a wrong value or an error of another kind is a finding.
//
// `go test` replays the seeds below and the committed corpus in testdata/fuzz/; `make fuzz`
// runs the fuzzer (go test -fuzz FuzzCallRoundTrip -fuzztime FUZZ_SECONDS).
func FuzzCallRoundTrip(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &valueGen{data: data}
		var args []interface{}
		for n := 1 + int(g.byte()%3); n > 0 && !g.done(); n-- {
			args = append(args, g.value(0))
		}
		checkRoundTrip(t, args)
	})
}

// checkRoundTrip calls echo with each argument (one call per argument: echo takes one) and
// checks the result against the model.
func checkRoundTrip(t *testing.T, args []interface{}) {
	t.Helper()
	for i, arg := range args {
		want := expect(arg, 0)
		got, err := Call("echo", arg)
		switch {
		case want.argument:
			var argErr *ArgumentError
			if !errors.As(err, &argErr) || argErr.Position != 0 {
				t.Fatalf("arg %d %s: got (%s, %v), want an *ArgumentError", i, show(arg), show(got), err)
			}
		case want.utf8:
			var argErr *ArgumentError
			if !errors.As(err, &argErr) || argErr.Position != 0 || !strings.Contains(argErr.Reason, "not valid UTF-8") {
				t.Fatalf("arg %d %s: got (%s, %v), want an *ArgumentError about UTF-8", i, show(arg), show(got), err)
			}
		case want.key:
			var pyErr *PythonError
			if !errors.As(err, &pyErr) || pyErr.Type != "TypeError" || !strings.Contains(pyErr.Message, "is not a string") {
				t.Fatalf("arg %d %s: got (%s, %v), want a TypeError about a dict key", i, show(arg), show(got), err)
			}
		default:
			if err != nil {
				t.Fatalf("arg %d %s: unexpected error %v", i, show(arg), err)
			}
			if !sameValue(got, want.value) {
				t.Fatalf("arg %d %s: got %s, want %s", i, show(arg), show(got), show(want.value))
			}
		}
	}
	// Whatever happened, the next call works.
	if got, err := Call("echo", "after"); err != nil || got != "after" {
		t.Fatalf("the call after: (%v, %v)", got, err)
	}
}

func show(v interface{}) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// --- the generator: bytes -> Go values --------------------------------------------------------

type valueGen struct {
	data []byte
	pos  int
}

func (g *valueGen) done() bool { return g.pos >= len(g.data) }

// byte is the next input byte, 0 once the input is used up (so every input is a value).
func (g *valueGen) byte() byte {
	if g.pos >= len(g.data) {
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return b
}

func (g *valueGen) u64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = g.byte()
	}
	return binary.LittleEndian.Uint64(b[:])
}

func (g *valueGen) raw() []byte {
	n := int(g.byte() % 24)
	out := make([]byte, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, g.byte())
	}
	return out
}

// text is a string that is mostly readable, with NULs, multi-byte runes and invalid UTF-8
// (a lone continuation byte, an encoded surrogate) mixed in by the input.
func (g *valueGen) text() string {
	var b strings.Builder
	for n := int(g.byte() % 12); n > 0; n-- {
		switch c := g.byte(); c % 8 {
		case 0:
			b.WriteByte(0)
		case 1:
			b.WriteString("é")
		case 2:
			b.WriteString("\U0001F377")
		case 3:
			b.WriteByte(0x80 | c>>3) // a continuation byte alone: invalid
		case 4:
			b.WriteString("\xed\xa0\x80") // an encoded surrogate: invalid in Go and Python
		default:
			b.WriteByte('a' + c%26)
		}
	}
	return b.String()
}

var specialFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.5, 1e300, -1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64,
	math.NaN(), math.Inf(1), math.Inf(-1), -(1 << 63), 1 << 63, 1 << 53, (1 << 53) + 1,
}

var specialInts = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32 - 1, 1 << 53}

// key is a map key of any kind the encoder accepts, and a few it refuses.
func (g *valueGen) key() interface{} {
	switch c := g.byte(); c % 9 {
	case 0:
		return g.text()
	case 1:
		return int(int8(c))
	case 2:
		return specialInts[int(c/9)%len(specialInts)]
	case 3:
		return specialFloats[int(c/9)%len(specialFloats)]
	case 4:
		return c%2 == 0
	case 5:
		return uint64(math.MaxUint64) - uint64(c%2) // refused: above MaxInt64
	case 6:
		return float32(int8(c)) / 2
	case 7:
		return [1]int{1} // refused: not a string, number or bool
	default:
		return string(rune('a' + c%3)) // few distinct strings: collisions inside one map
	}
}

func (g *valueGen) value(depth int) interface{} {
	c := g.byte()
	switch c % 20 {
	case 0:
		return nil
	case 1:
		return c&0x80 != 0
	case 2:
		return int64(g.u64())
	case 3:
		switch u := g.u64(); c / 20 % 10 {
		case 0:
			return int8(u)
		case 1:
			return int16(u)
		case 2:
			return int32(u)
		case 3:
			return int(u)
		case 4:
			return uint8(u)
		case 5:
			return uint16(u)
		case 6:
			return uint32(u)
		case 7:
			return uint(u)
		case 8:
			return uintptr(u)
		default:
			return u // uint64: above MaxInt64 it is refused
		}
	case 4:
		return math.Float64frombits(g.u64())
	case 5:
		return specialFloats[int(g.byte())%len(specialFloats)]
	case 6:
		return math.Float32frombits(uint32(g.u64()))
	case 7:
		return g.text()
	case 8:
		return string(g.raw()) // any bytes at all
	case 9:
		if c&0x80 != 0 {
			return []byte(nil)
		}
		return g.raw()
	case 10, 11:
		n := int(g.byte() % 5)
		list := make([]interface{}, 0, n)
		for i := 0; i < n && !g.done(); i++ {
			list = append(list, g.value(depth+1))
		}
		return list
	case 12:
		n := int(g.byte() % 5)
		m := make(map[string]interface{}, n)
		for i := 0; i < n && !g.done(); i++ {
			m[g.text()] = g.value(depth + 1)
		}
		return m
	case 13:
		n := int(g.byte() % 5)
		m := make(map[interface{}]interface{}, n)
		for i := 0; i < n && !g.done(); i++ {
			m[g.key()] = g.value(depth + 1) // NaN keys: Go keeps every one
		}
		return m
	case 14:
		// Deep nesting around a leaf, past the encoder's bound when the input says so.
		levels := int(g.byte()) + int(g.byte())%2*int(g.byte())
		var v interface{} = g.value(depth + levels)
		for i := 0; i < levels; i++ {
			v = []interface{}{v}
		}
		return v
	case 15:
		n := int(g.byte() % 4)
		s := make([]string, n)
		for i := range s {
			s[i] = g.text()
		}
		if c&0x80 != 0 {
			return []string(nil)
		}
		return s
	case 16:
		return []int32{int32(g.u64()), int32(c)}
	case 17:
		return [2]float32{float32(specialFloats[int(g.byte())%len(specialFloats)]), float32(c)}
	case 18:
		switch c / 20 % 4 {
		case 0:
			return (*int)(nil)
		case 1:
			x := int64(g.u64())
			return &x
		case 2:
			s := g.text()
			return &s
		default:
			v := g.value(depth + 1) // *interface{}: no level in the encoder
			return &v
		}
	default:
		n := int(g.byte() % 4)
		m := make(map[int64]string, n)
		for i := 0; i < n; i++ {
			m[int64(int8(g.byte()))] = g.text()
		}
		return m // non-empty: a dict with int keys, refused as a result
	}
}

// --- the model: what echo must give back ------------------------------------------------------

// outcome is what the model predicts: an *ArgumentError (the encoder refuses the value; utf8:
// for a string that is not UTF-8), a TypeError (the dict that comes back has a key that is not
// a str), or value.
type outcome struct {
	argument, utf8, key bool
	value               interface{}
}

func (o *outcome) merge(other outcome) {
	o.argument = o.argument || other.argument
	o.utf8 = o.utf8 || other.utf8
	o.key = o.key || other.key
}

// expect models encode.go (its fast path for the common types and its reflection path; a
// container inside MaxDepth others is refused, pointers and interfaces are not levels), the
// shim (dict keys) and decode.go (the Go types of the result). depth is how many containers
// hold v.
func expect(v interface{}, depth int) outcome {
	switch x := v.(type) {
	case nil:
		return outcome{}
	case string:
		return outcome{utf8: !utf8.ValidString(x), value: x}
	case bool:
		return outcome{value: x}
	case int:
		return outcome{value: int64(x)}
	case int64:
		return outcome{value: x}
	case float64:
		return outcome{value: x}
	case []byte:
		if x == nil {
			return outcome{}
		}
		return outcome{value: append([]byte{}, x...)}
	case []interface{}:
		if x == nil {
			return outcome{}
		}
		if depth >= MaxDepth {
			return outcome{argument: true}
		}
		out := outcome{}
		list := make([]interface{}, len(x))
		for i, item := range x {
			sub := expect(item, depth+1)
			out.merge(sub)
			list[i] = sub.value
		}
		out.value = list
		return out
	case []string:
		if x == nil {
			return outcome{}
		}
		if depth >= MaxDepth {
			return outcome{argument: true}
		}
		out := outcome{}
		list := make([]interface{}, len(x))
		for i, s := range x {
			out.utf8 = out.utf8 || !utf8.ValidString(s)
			list[i] = s
		}
		out.value = list
		return out
	case map[string]interface{}:
		if x == nil {
			return outcome{}
		}
		if depth >= MaxDepth {
			return outcome{argument: true}
		}
		out := outcome{}
		m := make(map[string]interface{}, len(x))
		for k, item := range x {
			out.utf8 = out.utf8 || !utf8.ValidString(k)
			sub := expect(item, depth+1)
			out.merge(sub)
			m[k] = sub.value
		}
		out.value = m
		return out
	}
	return expectReflect(reflect.ValueOf(v), depth)
}

func expectReflect(rv reflect.Value, depth int) outcome {
	switch rv.Kind() {
	case reflect.Invalid:
		return outcome{}
	case reflect.Bool:
		return outcome{value: rv.Bool()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return outcome{value: rv.Int()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return outcome{argument: true}
		}
		return outcome{value: int64(rv.Uint())}
	case reflect.Float32, reflect.Float64:
		return outcome{value: rv.Float()}
	case reflect.String:
		return outcome{utf8: !utf8.ValidString(rv.String()), value: rv.String()}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return outcome{}
		}
		return expectReflect(rv.Elem(), depth) // the generator makes no chains of MaxDepth pointers
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return outcome{}
		}
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return outcome{value: append([]byte{}, rv.Bytes()...)}
		}
		if depth >= MaxDepth {
			return outcome{argument: true}
		}
		out := outcome{}
		list := make([]interface{}, rv.Len())
		for i := range list {
			sub := expectReflect(rv.Index(i), depth+1)
			out.merge(sub)
			list[i] = sub.value
		}
		out.value = list
		return out
	case reflect.Map:
		if rv.IsNil() {
			return outcome{}
		}
		if depth >= MaxDepth {
			return outcome{argument: true}
		}
		return expectMap(rv, depth)
	}
	panic(fmt.Sprintf("the generator made a %s the model does not know", rv.Type()))
}

func expectMap(rv reflect.Value, depth int) outcome {
	out := outcome{}
	m := make(map[string]interface{}, rv.Len())
	var seen []interface{} // the keys so far, as Python sees them
	iter := rv.MapRange()
	for iter.Next() {
		k := iter.Key()
		if k.Kind() == reflect.Interface {
			k = k.Elem()
		}
		pk, ok := pythonValueOf(k)
		if !ok {
			out.argument = true // not a string, number or bool, or an integer beyond int64
			continue
		}
		for _, other := range seen {
			if pythonEqual(pk, other) {
				out.argument = true // one dict key in Python
			}
		}
		seen = append(seen, pk)
		sub := expectReflect(iter.Value(), depth+1)
		out.merge(sub)
		if s, isString := pk.(string); isString {
			out.utf8 = out.utf8 || !utf8.ValidString(s)
			m[s] = sub.value
		} else {
			out.key = true
		}
	}
	out.value = m
	return out
}

// pythonValueOf is a key as Python sees it: int64 for bools and integers, float64, or string.
func pythonValueOf(k reflect.Value) (interface{}, bool) {
	switch k.Kind() {
	case reflect.Bool:
		if k.Bool() {
			return int64(1), true
		}
		return int64(0), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return k.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if k.Uint() > math.MaxInt64 {
			return nil, false
		}
		return int64(k.Uint()), true
	case reflect.Float32, reflect.Float64:
		return k.Float(), true
	case reflect.String:
		return k.String(), true
	}
	return nil, false
}

// pythonEqual is Python's == on two keys: an int and a float are equal when the float is
// exactly that integer (Python compares them exactly, never by rounding the int).
func pythonEqual(a, b interface{}) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return intEqualsFloat(x, y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return intEqualsFloat(y, x)
		case float64:
			return x == y
		}
	}
	return false
}

func intEqualsFloat(i int64, f float64) bool {
	// Every float in [-2^63, 2^63) that is integral converts to int64 exactly.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return false
	}
	return int64(f) == i
}

// sameValue is reflect.DeepEqual with NaN equal to NaN.
func sameValue(a, b interface{}) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y))
	case []interface{}:
		y, ok := b.([]interface{})
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]interface{}:
		y, ok := b.(map[string]interface{})
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, present := y[k]
			if !present || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// --- seeds --------------------------------------------------------------------------------------

// fuzzSeeds start the fuzzer at every branch of the generator; the corpus in
// testdata/fuzz/FuzzCallRoundTrip holds the inputs of findings (and their fixes' tests).
func fuzzSeeds() [][]byte {
	seeds := [][]byte{{}, {0}}
	for op := byte(0); op < 20; op++ {
		seeds = append(seeds,
			[]byte{0, op, 3, 'a', 7, 0x80, 9, 1, 2, 3, 4, 5, 6, 7, 8},
			[]byte{2, op + 20, 4, 13, 2, 5, 0, 0, 1, 7, 2, op + 40, 1, 2, 3})
	}
	return seeds
}

// Found by FuzzCallRoundTrip (testdata/fuzz/FuzzCallRoundTrip/min-int64-and-float-key): the
// float -2^63 is math.MinInt64 in Python, one dict key, but the encoder took only floats below
// 2^63 in magnitude for integers, so the runtime refused the map (a ValueError) instead of Go
// (an *ArgumentError, TEAM contract 3).
func TestMinInt64AndItsFloatAreOneKey(t *testing.T) {
	for _, m := range []map[interface{}]interface{}{
		{int64(math.MinInt64): "int", float64(-(1 << 63)): "float"},
		{int64(math.MinInt64): "int", float32(-(1 << 63)): "float32"},
	} {
		var argErr *ArgumentError
		if _, err := Call("echo", m); !errors.As(err, &argErr) || !strings.Contains(argErr.Reason, "are equal in Python") {
			t.Errorf("%v: got %v, want an ArgumentError naming the equal keys", m, err)
		}
	}
	// 2^63 is no int64: it stays a float key of its own.
	got, err := Call("kind", map[interface{}]interface{}{float64(1 << 63): "f", int64(math.MaxInt64): "i"})
	want := map[string]interface{}{"dict": []interface{}{"float:9.223372036854776e+18=str", "int:9223372036854775807=str"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("2^63 and MaxInt64: got (%#v, %v), want %#v", got, err, want)
	}
}
