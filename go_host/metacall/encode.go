package metacall

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Go to runtime values. The arguments are written into a flat tape (its format is in
// c_shim/include/metacall/mlbridge.h) that the shim turns straight into Python objects inside
// the same cgo call that makes the call.
// What each Go type becomes (and what is an *ArgumentError): docs/values.md, the one table
// for every host.

// tooDeep refuses a container inside MaxDepth others (docs/values.md): a cyclic structure
// fails there instead of growing the tape forever.
func tooDeep() *pathError {
	return &pathError{reason: fmt.Sprintf("nested deeper than %d levels (a cycle?)", MaxDepth)}
}

func unsupported(t reflect.Type, why string) *pathError {
	if why != "" {
		return &pathError{reason: fmt.Sprintf("unsupported type %s (%s)", t, why)}
	}
	return &pathError{reason: fmt.Sprintf("unsupported type %s", t)}
}

// notUTF8 is the refusal of a string that is not UTF-8: a Python str is text, so the runtime
// could only refuse it after the crossing (C refuses such a STRING the same way, naming the
// argument: docs/values.md).
func notUTF8(s string) *pathError {
	offset := 0
	for offset < len(s) {
		r, size := utf8.DecodeRuneInString(s[offset:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		offset += size
	}
	return &pathError{reason: fmt.Sprintf("a string is not valid UTF-8 (byte %#02x at offset %d)", s[offset], offset)}
}

type tape []byte

// checkedText appends a string record, or refuses a string that is not UTF-8.
func (t tape) checkedText(s string) (tape, *pathError) {
	if !utf8.ValidString(s) {
		return t, notUTF8(s)
	}
	return t.text('s', s), nil
}

func (t tape) tag(c byte) tape { return append(t, c) }

func (t tape) long(i int64) tape {
	return binary.NativeEndian.AppendUint64(append(t, 'l'), uint64(i))
}

func (t tape) double(f float64) tape {
	return binary.NativeEndian.AppendUint64(append(t, 'd'), math.Float64bits(f))
}

func (t tape) float(f float32) tape {
	return binary.NativeEndian.AppendUint32(append(t, 'g'), math.Float32bits(f))
}

func (t tape) text(tag byte, s string) tape {
	t = binary.NativeEndian.AppendUint64(append(t, tag), uint64(len(s)))
	return append(t, s...)
}

func (t tape) bytes(b []byte) tape {
	t = binary.NativeEndian.AppendUint64(append(t, 'b'), uint64(len(b)))
	return append(t, b...)
}

func (t tape) header(tag byte, n int) tape {
	return binary.NativeEndian.AppendUint64(append(t, tag), uint64(n))
}

// encode appends v, held by depth containers. The common shapes of ML calls (strings,
// numbers, []interface{}, map[string]interface{}, []string) skip reflection.
func (t tape) encode(v interface{}, depth int) (tape, *pathError) {
	switch x := v.(type) {
	case nil:
		return t.tag('n'), nil
	case *encodedItem: // a Batcher item, converted by its caller (batch_item.go)
		return append(t, x.tape...), nil
	case string:
		return t.checkedText(x)
	case bool:
		if x {
			return t.tag('t'), nil
		}
		return t.tag('f'), nil
	case int:
		return t.long(int64(x)), nil
	case int64:
		return t.long(x), nil
	case float64:
		return t.double(x), nil
	case []byte:
		if x == nil {
			return t.tag('n'), nil
		}
		return t.bytes(x), nil
	case []interface{}:
		if x == nil {
			return t.tag('n'), nil
		}
		if depth >= MaxDepth {
			return t, tooDeep()
		}
		t = t.header('a', len(x))
		for i, item := range x {
			var err *pathError
			if t, err = t.encode(item, depth+1); err != nil {
				return t, err.at("[" + strconv.Itoa(i) + "]")
			}
		}
		return t, nil
	case []string:
		if x == nil {
			return t.tag('n'), nil
		}
		if depth >= MaxDepth {
			return t, tooDeep()
		}
		t = t.header('a', len(x))
		for i, s := range x {
			var err *pathError
			if t, err = t.checkedText(s); err != nil {
				return t, err.at("[" + strconv.Itoa(i) + "]")
			}
		}
		return t, nil
	case map[string]interface{}:
		if x == nil {
			return t.tag('n'), nil
		}
		if depth >= MaxDepth {
			return t, tooDeep()
		}
		t = t.header('m', len(x))
		for k, item := range x {
			var err *pathError
			if t, err = t.checkedText(k); err != nil {
				return t, err.at("[" + strconv.Quote(k) + "]")
			}
			if t, err = t.encode(item, depth+1); err != nil {
				return t, err.at("[" + strconv.Quote(k) + "]")
			}
		}
		return t, nil
	}
	return t.encodeReflect(reflect.ValueOf(v), depth)
}

func (t tape) encodeReflect(v reflect.Value, depth int) (tape, *pathError) {
	switch v.Kind() {
	case reflect.Invalid:
		return t.tag('n'), nil
	case reflect.Bool:
		if v.Bool() {
			return t.tag('t'), nil
		}
		return t.tag('f'), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return t.long(v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return t, &pathError{reason: fmt.Sprintf("%s value %d does not fit in a 64-bit signed integer", v.Type(), u)}
		}
		return t.long(int64(u)), nil
	case reflect.Float32:
		return t.float(float32(v.Float())), nil
	case reflect.Float64:
		return t.double(v.Float()), nil
	case reflect.String:
		return t.checkedText(v.String())
	case reflect.Pointer, reflect.Interface:
		// What they hold, at the same depth: a chain of them is not nesting, but it may be a
		// cycle of pointers only (type P *P), so it is bounded too.
		for hops := 0; v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface; hops++ {
			if v.IsNil() {
				return t.tag('n'), nil
			}
			if hops == MaxDepth {
				return t, &pathError{reason: fmt.Sprintf("more than %d pointers in a chain (a cycle?)", MaxDepth)}
			}
			v = v.Elem()
		}
		return t.encodeReflect(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			return t.tag('n'), nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return t.bytes(v.Bytes()), nil
		}
		return t.encodeList(v, depth)
	case reflect.Array:
		return t.encodeList(v, depth)
	case reflect.Map:
		if v.IsNil() {
			return t.tag('n'), nil
		}
		return t.encodeMap(v, depth)
	case reflect.Struct:
		return t.encodeStruct(v, depth)
	}
	return t, unsupported(v.Type(), "")
}

func (t tape) encodeList(v reflect.Value, depth int) (tape, *pathError) {
	if depth >= MaxDepth {
		return t, tooDeep()
	}
	n := v.Len()
	t = t.header('a', n)
	for i := 0; i < n; i++ {
		var err *pathError
		if t, err = t.encodeReflect(v.Index(i), depth+1); err != nil {
			return t, err.at("[" + strconv.Itoa(i) + "]")
		}
	}
	return t, nil
}

func (t tape) encodeMap(v reflect.Value, depth int) (tape, *pathError) {
	switch v.Type().Key().Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface:
	default:
		return t, unsupported(v.Type(), "map keys must be strings, numbers or bools")
	}
	if depth >= MaxDepth {
		return t, tooDeep()
	}
	// Keys of different Go types can be one key in Python (1, 1.0 and true): refuse that
	// rather than let the dict keep one of them. Only interface-keyed maps can hold such keys.
	var seen map[pythonKey]reflect.Value
	if v.Type().Key().Kind() == reflect.Interface {
		seen = make(map[pythonKey]reflect.Value, v.Len())
	}
	t = t.header('m', v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k := iter.Key()
		if k.Kind() == reflect.Interface {
			k = k.Elem()
		}
		if pk, ok := pythonKeyOf(k); ok && seen != nil {
			if other, dup := seen[pk]; dup {
				return t, &pathError{reason: fmt.Sprintf("map keys %v (%s) and %v (%s) are equal in Python (one dict key)",
					other.Interface(), other.Type(), k.Interface(), k.Type())}
			}
			seen[pk] = k
		}
		step := "[" + fmt.Sprintf("%#v", k.Interface()) + "]"
		switch k.Kind() {
		case reflect.String, reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64:
		default:
			return t, (&pathError{reason: fmt.Sprintf("map key of type %s (keys must be strings, numbers or bools)", k.Type())}).at(step)
		}
		var err *pathError
		if t, err = t.encodeReflect(k, depth+1); err != nil {
			return t, err.at(step)
		}
		if t, err = t.encodeReflect(iter.Value(), depth+1); err != nil {
			return t, err.at(step)
		}
	}
	return t, nil
}

// pythonKey is a map key as Python compares dict keys: bools and integral floats equal the
// integers of the same value.
type pythonKey struct {
	kind byte // 'i', 'f' or 's'
	i    int64
	f    float64
	s    string
}

func pythonKeyOf(k reflect.Value) (pythonKey, bool) {
	switch k.Kind() {
	case reflect.Bool:
		if k.Bool() {
			return pythonKey{kind: 'i', i: 1}, true
		}
		return pythonKey{kind: 'i'}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return pythonKey{kind: 'i', i: k.Int()}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if k.Uint() > math.MaxInt64 {
			return pythonKey{}, false // refused by the encoder anyway
		}
		return pythonKey{kind: 'i', i: int64(k.Uint())}, true
	case reflect.Float32, reflect.Float64:
		f := k.Float()
		// Integral floats in [-2^63, 2^63) are exactly an int64 (-2^63 included: it equals
		// math.MinInt64 in Python).
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return pythonKey{kind: 'i', i: int64(f)}, true
		}
		return pythonKey{kind: 'f', f: f}, true // NaN never equals itself, here as in Python
	case reflect.String:
		return pythonKey{kind: 's', s: k.String()}, true
	}
	return pythonKey{}, false
}

// structField is one exported field of a struct as it appears in the MAP.
type structField struct {
	name      string
	index     []int
	omitEmpty bool
}

type structInfo struct {
	fields []structField
	err    string // non-empty: the struct has no mapping
}

var structCache sync.Map // reflect.Type -> *structInfo

// structFields lists the exported fields of t the way encoding/json names them: the json tag
// name if any, "-" skips, ",omitempty" drops zero values, embedded structs are flattened.
func structFields(t reflect.Type) *structInfo {
	if cached, ok := structCache.Load(t); ok {
		return cached.(*structInfo)
	}
	info := &structInfo{}
	for _, f := range reflect.VisibleFields(t) {
		tag, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				continue // its fields are promoted and listed by VisibleFields
			}
		}
		if !f.IsExported() || (hasTag && name == "-" && opts == "") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if !utf8.ValidString(name) {
			info.err = fmt.Sprintf("unsupported type %s (the json name of field %s is not valid UTF-8)", t, f.Name)
			break
		}
		info.fields = append(info.fields, structField{
			name:      name,
			index:     f.Index,
			omitEmpty: strings.Contains(","+opts+",", ",omitempty,"),
		})
	}
	if len(info.fields) == 0 && t.NumField() > 0 {
		info.err = fmt.Sprintf("unsupported type %s (a struct with no exported fields has no mapping)", t)
	}
	cached, _ := structCache.LoadOrStore(t, info)
	return cached.(*structInfo)
}

func (t tape) encodeStruct(v reflect.Value, depth int) (tape, *pathError) {
	info := structFields(v.Type())
	if info.err != "" {
		return t, &pathError{reason: info.err}
	}
	if depth >= MaxDepth {
		return t, tooDeep()
	}
	type present struct {
		name  string
		value reflect.Value
	}
	fields := make([]present, 0, len(info.fields))
	for _, f := range info.fields {
		fv, err := v.FieldByIndexErr(f.index)
		if err != nil { // through a nil embedded pointer: the field is absent
			continue
		}
		if f.omitEmpty && isEmpty(fv) {
			continue
		}
		fields = append(fields, present{f.name, fv})
	}
	t = t.header('m', len(fields))
	for _, f := range fields {
		t = t.text('s', f.name)
		var err *pathError
		if t, err = t.encodeReflect(f.value, depth+1); err != nil {
			return t, err.at("." + f.name)
		}
	}
	return t, nil
}

// isEmpty is encoding/json's notion of empty for ",omitempty".
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		return false
	}
	return v.IsZero()
}
