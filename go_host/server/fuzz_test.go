package server

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// Fuzz targets on the HTTP request decoder (no runtime needed). The seed corpus is committed
// under testdata/fuzz/<target>/ and replayed by every plain `go test` (make test);
// `make fuzz-go` runs each target for FUZZ_SECONDS.
//
// Properties: the decoder never panics; a refusal is a *requestError (a 400 naming the
// problem), never another error; an accepted request has 1..MaxBatchRows rows of the same
// fields, every value a scalar the runtime converts (string, int64, finite float64, bool, nil),
// one row unless batch_size was given, and one cache key per row when keys were sent.

func checkDecoded(t *testing.T, req *evalRequest, err error) {
	t.Helper()
	if err != nil {
		var bad *requestError
		if !errors.As(err, &bad) || bad.msg == "" {
			t.Fatalf("refusal %T %q is not a 400 request error", err, err)
		}
		if req != nil {
			t.Fatal("a refusal came with a request")
		}
		return
	}
	if req == nil || len(req.rows) < 1 || len(req.rows) > MaxBatchRows {
		t.Fatalf("accepted request with %d rows", len(req.rows))
	}
	if !req.batch && len(req.rows) != 1 {
		t.Fatalf("%d rows without batch_size", len(req.rows))
	}
	if req.cacheKeys != nil && len(req.cacheKeys) != len(req.rows) {
		t.Fatalf("%d cache keys for %d rows", len(req.cacheKeys), len(req.rows))
	}
	first, ok := req.rows[0].(map[string]interface{})
	if !ok {
		t.Fatalf("row is %T", req.rows[0])
	}
	for i, r := range req.rows {
		row := r.(map[string]interface{})
		if len(row) != len(first) {
			t.Fatalf("row %d has %d fields, row 0 has %d", i, len(row), len(first))
		}
		for name, v := range row {
			if name == batchSizeKey || name == cacheKeyKey {
				t.Fatalf("row %d carries %q as a field", i, name)
			}
			if _, ok := first[name]; !ok {
				t.Fatalf("row %d has field %q that row 0 lacks", i, name)
			}
			switch x := v.(type) {
			case string, int64, bool, nil:
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("field %q: %v", name, x)
				}
			default:
				t.Fatalf("field %q: a %T reached the row", name, v)
			}
		}
	}
}

func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"sa":"a","sl":"b"}`,
		`{"batch_size":2,"sa":["a","b"],"sl":["c"]}`,
		`{"sa":["a"],"batch_size":1,"cache_key":["k"]}`,
		`{"i":1099511627776,"f":1.5e300,"b":true,"n":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeBody(body)
		checkDecoded(t, req, err)
		if err != nil || !req.batch || len(req.rows) > 64 {
			return
		}
		// An accepted batch, written back as a batch body, decodes to the same rows.
		fields := map[string][]interface{}{}
		for _, r := range req.rows {
			for name, v := range r.(map[string]interface{}) {
				fields[name] = append(fields[name], v)
			}
		}
		out := map[string]interface{}{batchSizeKey: len(req.rows)}
		for name, values := range fields {
			out[name] = values
		}
		again, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := decodeBody(again)
		if err != nil || len(req2.rows) != len(req.rows) {
			t.Fatalf("re-encoded %s: %v", again, err)
		}
		for i := range req.rows {
			a, b := req.rows[i].(map[string]interface{}), req2.rows[i].(map[string]interface{})
			for name, v := range a {
				if !sameScalar(v, b[name]) {
					t.Fatalf("row %d field %q: %#v then %#v (via %s)", i, name, v, b[name], again)
				}
			}
		}
	})
}

// sameScalar compares decoded scalars; a float with an integral value comes back as int64
// (JSON has one number type).
func sameScalar(a, b interface{}) bool {
	if fa, ok := a.(float64); ok {
		switch y := b.(type) {
		case float64:
			return fa == y
		case int64:
			return fa == float64(y)
		}
		return false
	}
	return a == b
}

// queryFields are the kinds a GET query is converted by.
var queryFields = map[string]Field{
	"s": {Name: "s", Kind: "string", Input: true},
	"i": {Name: "i", Kind: "int", Input: true},
	"f": {Name: "f", Kind: "float", Input: true},
	"b": {Name: "b", Kind: "bool", Input: true},
	"a": {Name: "a", Kind: "any", Input: true},
}

func FuzzDecodeQuery(f *testing.F) {
	for _, seed := range []string{
		"s=a&i=1&f=2.5&b=true&a=x",
		"i=9223372036854775808",
		"f=NaN&s=%ZZ",
		"cache_key=k&s=a",
		"batch_size=2&s=a",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req, err := decodeQuery(query, queryFields)
		checkDecoded(t, req, err)
		if err == nil && req.batch {
			t.Fatalf("a query %q decoded as a batch", query)
		}
		if err != nil {
			return
		}
		// Each value has its field's kind; names the model does not know stay text (the
		// runtime names them in its 400).
		for name, v := range req.rows[0].(map[string]interface{}) {
			ok := false
			switch queryFields[name].Kind {
			case "int":
				_, ok = v.(int64)
			case "float":
				_, ok = v.(float64)
			case "bool":
				_, ok = v.(bool)
			default:
				_, ok = v.(string)
			}
			if !ok {
				t.Fatalf("field %q (%s): a %T", name, queryFields[name].Kind, v)
			}
		}
	})
}
