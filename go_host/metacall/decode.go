package metacall

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Runtime values to Go. The shim encodes the Python result straight into a tape (see
// c_shim/include/metacall/mlbridge.h); decoding it here is plain Go with no further cgo
// crossings.
// What each value becomes in Go: docs/values.md, the one table for every host; a THROWABLE
// is the call's *PythonError, any other type a *ResultError naming it.

// valueTypeNames are the MetaCall value ids, for messages.
var valueTypeNames = [...]string{
	"BOOL", "CHAR", "SHORT", "INT", "LONG", "FLOAT", "DOUBLE", "STRING", "BUFFER", "ARRAY",
	"MAP", "PTR", "FUTURE", "FUNCTION", "NULL", "CLASS", "OBJECT", "EXCEPTION", "THROWABLE",
	"SIZE", "INVALID",
}

func valueTypeName(id byte) string {
	if int(id) < len(valueTypeNames) {
		return valueTypeNames[id]
	}
	return "id " + strconv.Itoa(int(id))
}

// truncated is a new error each time: the caller adds path steps to it on unwind.
func truncated() *pathError {
	return &pathError{reason: "truncated result tape (a bug in the C helper)"}
}

type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) byte() (byte, bool) {
	if d.pos >= len(d.buf) {
		return 0, false
	}
	b := d.buf[d.pos]
	d.pos++
	return b, true
}

func (d *decoder) u64() (uint64, bool) {
	if len(d.buf)-d.pos < 8 {
		return 0, false
	}
	u := binary.NativeEndian.Uint64(d.buf[d.pos:])
	d.pos += 8
	return u, true
}

func (d *decoder) raw() ([]byte, bool) {
	n, ok := d.u64()
	if !ok || n > uint64(len(d.buf)-d.pos) {
		return nil, false
	}
	b := d.buf[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, true
}

// exception reads the body of an 'x' record.
func (d *decoder) exception() (*PythonError, bool) {
	code, ok1 := d.u64()
	label, ok2 := d.raw()
	message, ok3 := d.raw()
	trace, ok4 := d.raw()
	if !(ok1 && ok2 && ok3 && ok4) {
		return nil, false
	}
	return &PythonError{
		Type:      string(label),
		Message:   string(message),
		Traceback: string(trace),
		Code:      int64(code),
	}, true
}

// decodeResult turns a whole result tape into the value or the Python exception it holds.
func decodeResult(function string, buf []byte) (interface{}, error) {
	d := decoder{buf: buf}
	if len(buf) > 0 && buf[0] == 'x' {
		d.pos = 1
		pyErr, ok := d.exception()
		if !ok {
			return nil, &ResultError{Function: function, Reason: truncated().reason}
		}
		pyErr.Function = function
		return nil, pyErr
	}
	v, err := d.value()
	if err != nil {
		return nil, &ResultError{Function: function, Path: err.pathString(), Reason: err.reason}
	}
	return v, nil
}

func (d *decoder) value() (interface{}, *pathError) {
	tag, ok := d.byte()
	if !ok {
		return nil, truncated()
	}
	switch tag {
	case 'n':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'l':
		u, ok := d.u64()
		if !ok {
			return nil, truncated()
		}
		return int64(u), nil
	case 'd':
		u, ok := d.u64()
		if !ok {
			return nil, truncated()
		}
		return math.Float64frombits(u), nil
	case 's':
		b, ok := d.raw()
		if !ok {
			return nil, truncated()
		}
		return string(b), nil
	case 'b':
		b, ok := d.raw()
		if !ok {
			return nil, truncated()
		}
		out := make([]byte, len(b))
		copy(out, b)
		return out, nil
	case 'a':
		n, ok := d.u64()
		if !ok || n > uint64(len(d.buf)-d.pos) {
			return nil, truncated()
		}
		list := make([]interface{}, n)
		for i := range list {
			var err *pathError
			if list[i], err = d.value(); err != nil {
				return nil, err.at("[" + strconv.Itoa(i) + "]")
			}
		}
		return list, nil
	case 'm':
		return d.mapValue()
	case 'x':
		if _, ok := d.exception(); !ok {
			return nil, truncated()
		}
		return nil, &pathError{reason: "an exception object inside the result has no Go counterpart"}
	case 'u':
		id, ok := d.byte()
		if !ok {
			return nil, truncated()
		}
		return nil, &pathError{reason: fmt.Sprintf("a %s value has no Go counterpart (return plain lists, dicts, str, int, float, bytes)", valueTypeName(id))}
	}
	return nil, &pathError{reason: fmt.Sprintf("unknown tape tag %q (a bug in the C helper)", tag)}
}

func (d *decoder) mapValue() (interface{}, *pathError) {
	n, ok := d.u64()
	if !ok || n > uint64(len(d.buf)-d.pos) {
		return nil, truncated()
	}
	m := make(map[string]interface{}, n)
	for i := uint64(0); i < n; i++ {
		k, err := d.value()
		if err != nil {
			return nil, err.at("{key " + strconv.FormatUint(i, 10) + "}")
		}
		key, isString := k.(string)
		if !isString { // the runtime refuses dicts with other keys (a TypeError naming the key)
			return nil, &pathError{reason: fmt.Sprintf("a MAP key of Go type %T (a bug in the C helper)", k)}
		}
		v, err := d.value()
		if err != nil {
			return nil, err.at("[" + strconv.Quote(key) + "]")
		}
		if _, dup := m[key]; dup {
			return nil, &pathError{reason: fmt.Sprintf("two keys of the dict both read as %q in Go", key)}
		}
		m[key] = v
	}
	return m, nil
}
