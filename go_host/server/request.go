package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
)

// MaxBatchRows bounds batch_size: a one-element array is broadcast to batch_size rows, so a
// small body could otherwise ask for any number of rows.
const MaxBatchRows = 100_000

// evalRequest is one decoded eval request: its rows, the client's cache keys (nil when none
// were sent) and whether the answer is a list (batch_size given) or one object.
type evalRequest struct {
	rows      []interface{} // each a map[string]interface{}
	cacheKeys []string
	batch     bool
}

// requestError is a request that cannot be evaluated: it becomes a 400 naming the problem.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...interface{}) *requestError {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

const (
	batchSizeKey = "batch_size"
	cacheKeyKey  = "cache_key"
)

// decodeBody decodes a POST/PUT body: a flat JSON object, either one row of scalars, or
// batch_size plus arrays (of length batch_size, or 1 to broadcast), in any key order.
func decodeBody(body []byte) (*evalRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("empty body: want a JSON object of field values")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]interface{}
	if err := dec.Decode(&obj); err != nil {
		return nil, badRequest("body is not a JSON object: %v", err)
	}
	if obj == nil {
		return nil, badRequest("body is null: want a JSON object of field values")
	}
	if _, err := dec.Token(); err == nil {
		return nil, badRequest("body has data after the JSON object")
	}
	req := &evalRequest{}
	size := 1
	if raw, ok := obj[batchSizeKey]; ok {
		n, isNum := raw.(json.Number)
		v, err := n.Int64()
		if !isNum || err != nil || v < 1 || v > MaxBatchRows {
			return nil, badRequest("batch_size: want a whole number from 1 to %d, got %s", MaxBatchRows, describe(raw))
		}
		size, req.batch = int(v), true
		delete(obj, batchSizeKey)
	}
	if raw, ok := obj[cacheKeyKey]; ok {
		keys, err := cacheKeys(raw, req.batch, size)
		if err != nil {
			return nil, err
		}
		req.cacheKeys = keys
		delete(obj, cacheKeyKey)
	}
	rows := make([]map[string]interface{}, size)
	for i := range rows {
		rows[i] = make(map[string]interface{}, len(obj))
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	slices.Sort(names) // the first bad field named is the same every time
	for _, name := range names {
		raw := obj[name]
		if !req.batch {
			v, err := scalar(name, raw)
			if err != nil {
				return nil, err
			}
			rows[0][name] = v
			continue
		}
		list, ok := raw.([]interface{})
		if !ok {
			return nil, badRequest("field %q: with batch_size, want an array of %d values (or 1 to broadcast), got %s", name, size, describe(raw))
		}
		if len(list) != size && len(list) != 1 {
			return nil, badRequest("field %q: %d values for batch_size %d (give %d, or 1 to broadcast)", name, len(list), size, size)
		}
		for i := range rows {
			item := list[0]
			if len(list) > 1 {
				item = list[i]
			}
			v, err := scalar(name, item)
			if err != nil {
				return nil, err
			}
			rows[i][name] = v
		}
	}
	req.rows = make([]interface{}, size)
	for i, row := range rows {
		req.rows[i] = row
	}
	return req, nil
}

// cacheKeys reads cache_key: a string for one row, an array of strings with batch_size.
func cacheKeys(raw interface{}, batch bool, size int) ([]string, error) {
	if !batch {
		s, ok := raw.(string)
		if !ok {
			return nil, badRequest("cache_key: want a string (an array needs batch_size), got %s", describe(raw))
		}
		return []string{s}, nil
	}
	list, ok := raw.([]interface{})
	if !ok || (len(list) != size && len(list) != 1) {
		return nil, badRequest("cache_key: with batch_size %d, want an array of %d strings, got %s", size, size, describe(raw))
	}
	keys := make([]string, size)
	for i := range keys {
		item := list[0]
		if len(list) > 1 {
			item = list[i]
		}
		s, ok := item.(string)
		if !ok {
			return nil, badRequest("cache_key[%d]: want a string, got %s", i, describe(item))
		}
		keys[i] = s
	}
	return keys, nil
}

// scalar converts a decoded JSON value into what the runtime receives: string, int64 (an
// integer literal that fits), float64, bool or nil. The model checks the type per field.
func scalar(name string, raw interface{}) (interface{}, error) {
	switch v := raw.(type) {
	case string, bool, nil:
		return v, nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, badRequest("field %q: %s is out of range", name, v)
		}
		return f, nil
	case []interface{}:
		return nil, badRequest("field %q: want a single value (an array needs batch_size)", name)
	default:
		return nil, badRequest("field %q: want a single value, got %s", name, describe(raw))
	}
}

// describe names a decoded JSON value's type (and a short form of it) for error messages.
func describe(raw interface{}) string {
	switch v := raw.(type) {
	case nil:
		return "null"
	case string:
		return "a string " + strconv.Quote(truncate(v, 40))
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + truncate(v.String(), 40)
	case []interface{}:
		return fmt.Sprintf("an array of %d values", len(v))
	case map[string]interface{}:
		return "an object"
	}
	return fmt.Sprintf("%T", raw)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeQuery decodes a GET query into one row; values are converted by the field's kind
// (mly takes the first value of each key). cache_key is accepted; batch_size is not.
func decodeQuery(query string, fields map[string]Field) (*evalRequest, error) {
	values, err := url.ParseQuery(query)
	if err != nil {
		return nil, badRequest("query: %v", err)
	}
	req := &evalRequest{}
	row := make(map[string]interface{}, len(values))
	for name, list := range values {
		text := list[0]
		switch name {
		case cacheKeyKey:
			req.cacheKeys = []string{text}
			continue
		case batchSizeKey:
			return nil, badRequest("batch_size: a batch needs a POST body (GET carries one row)")
		}
		v, err := queryValue(name, text, fields[name].Kind)
		if err != nil {
			return nil, err
		}
		row[name] = v
	}
	req.rows = []interface{}{row}
	return req, nil
}

func queryValue(name, text, kind string) (interface{}, error) {
	switch kind {
	case "int":
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, badRequest("field %q: want an integer, got %q", name, truncate(text, 40))
		}
		return i, nil
	case "float":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, badRequest("field %q: want a number, got %q", name, truncate(text, 40))
		}
		return f, nil
	case "bool":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, badRequest("field %q: want true or false, got %q", name, truncate(text, 40))
		}
		return b, nil
	}
	return text, nil
}
