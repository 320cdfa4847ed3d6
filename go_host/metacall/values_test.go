// Values cross both ways: each Go value arrives as its Python type and each Python result
// comes back as its Go type.

package metacall

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

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
