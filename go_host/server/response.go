package server

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Response bodies are built by hand into pooled buffers, in mly's key order:
// {"status":"ok","dictHash":N,"serviceTimeMcs":N,"data":…} (dictHash omitted when 0, as mly).

var bufferPool = sync.Pool{New: func() interface{} { b := make([]byte, 0, 512); return &b }}

const keepBuffer = 64 << 10

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= keepBuffer {
		*b = (*b)[:0]
		bufferPool.Put(b)
	}
}

// writeJSON writes body with the status and Content-Type: application/json.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	// net/http sets the Content-Length of a body it holds whole when the handler returns
	// (HTTP/1.1: under 2 KiB, without allocating; HTTP/2: any); a longer one is sent with
	// ours rather than chunked.
	if len(body) >= smallBody {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// smallBody is net/http's bufferBeforeChunkingSize: a body shorter than this, written in one
// piece, is held until the handler returns.
const smallBody = 2048

var jsonContentType = []string{"application/json"}

// writeError writes {"status":"error","error":msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	buf := getBuffer()
	b := append((*buf)[:0], `{"status":"error","error":`...)
	b = appendString(b, msg)
	b = append(b, '}')
	writeJSON(w, status, b)
	*buf = b
	putBuffer(buf)
}

// envelopeHead is the start of a success answer up to serviceTimeMcs's value:
// {"status":"ok","dictHash":N,"serviceTimeMcs":  (dictHash omitted when 0, as mly).
func envelopeHead(dictHash int64) []byte {
	b := []byte(`{"status":"ok",`)
	if dictHash != 0 {
		b = append(b, `"dictHash":`...)
		b = strconv.AppendInt(b, dictHash, 10)
		b = append(b, ',')
	}
	return append(b, `"serviceTimeMcs":`...)
}

// appendEnvelope appends the success envelope up to its data: head (envelopeHead), the
// service time and ,"data": (the caller appends data and '}').
func appendEnvelope(b, head []byte, serviceMcs int64) []byte {
	b = append(b, head...)
	b = strconv.AppendInt(b, serviceMcs, 10)
	return append(b, `,"data":`...)
}

// appendData appends an answer's data: one row's outputs, or a list of them with batch.
func appendData(b []byte, rows []interface{}, batch bool) []byte {
	if batch {
		b = append(b, '[')
		for i, row := range rows {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, row)
		}
		return append(b, ']')
	}
	if len(rows) == 1 {
		return appendValue(b, rows[0])
	}
	return append(b, "null"...)
}

// appendValue appends a runtime value as JSON; map keys are sorted (stable output order).
func appendValue(b []byte, v interface{}) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return appendFloat(b, x)
	case string:
		return appendString(b, x)
	case []interface{}:
		b = append(b, '[')
		for i, item := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, item)
		}
		return append(b, ']')
	case map[string]interface{}:
		b = append(b, '{')
		if len(x) == 1 {
			for k, item := range x {
				b = appendString(b, k)
				b = append(b, ':')
				b = appendValue(b, item)
			}
			return append(b, '}')
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x[k])
		}
		return append(b, '}')
	}
	out, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}

// appendFloat formats as encoding/json does (shortest form; exponent outside 1e-6..1e21);
// NaN and infinities have no JSON form and become null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
