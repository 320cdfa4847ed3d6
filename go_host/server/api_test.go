package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sliHash is the dictHash mly's own server serves for string_lookups_int_model.
const sliHash = "2258113197202221534"

func TestEvalSingleRowEveryWay(t *testing.T) {
	needServer(t)
	for name, client := range clients() {
		t.Run(name, func(t *testing.T) {
			for _, r := range []reply{
				post(t, client, "sli", `{"sa":"a","sl":"a"}`),
				post(t, client, "sli", `{"sl":"a","sa":"a","cache_key":"a/a"}`),
				do(t, client, http.MethodPut, "/v1/api/model/sli/eval", `{"sa":"a","sl":"a"}`),
				do(t, client, http.MethodGet, "/v1/api/model/sli/eval?sa=a&sl=a", ""),
				do(t, client, http.MethodGet, "/v1/api/model/sli/eval?sa=a&sl=a&cache_key=a/a", ""),
			} {
				if r.proto != name {
					t.Fatalf("answered over %s, want %s", r.proto, name)
				}
				if got := data(t, r); got != `{"expand":25}` {
					t.Fatalf("data %s, want {\"expand\":25}", got)
				}
				if string(r.envelope["dictHash"]) != sliHash {
					t.Fatalf("dictHash %s, want %s", r.envelope["dictHash"], sliHash)
				}
			}
		})
	}
}

func TestEvalEnvelopeIsMlysByteForByte(t *testing.T) {
	needServer(t)
	r := post(t, h1, "sli", `{"sa":"zz","sl":"a"}`)
	data(t, r)
	var mcs int64
	if err := json.Unmarshal(r.envelope["serviceTimeMcs"], &mcs); err != nil || mcs < 0 {
		t.Fatalf("serviceTimeMcs %s", r.envelope["serviceTimeMcs"])
	}
	want := fmt.Sprintf(`{"status":"ok","dictHash":%s,"serviceTimeMcs":%d,"data":{"expand":10}}`, sliHash, mcs)
	if string(r.body) != want {
		t.Fatalf("body\n%s\nwant\n%s", r.body, want)
	}
	// A model without a dictionary: dictHash is omitted, as mly does; outputs in name order.
	r = post(t, h1, "ko", `{"i":3}`)
	if got := data(t, r); got != `{"i0_copy":3,"i1_copy":3}` {
		t.Fatalf("ko data %s", got)
	}
	if _, ok := r.envelope["dictHash"]; ok {
		t.Fatalf("dictHash given for a model without a dictionary: %s", r.body)
	}
}

func TestBatchInAnyKeyOrderWithBroadcast(t *testing.T) {
	needServer(t)
	want := `[{"expand":25},{"expand":12},{"expand":10}]`
	for name, client := range clients() {
		t.Run(name, func(t *testing.T) {
			for _, body := range []string{
				`{"batch_size":3,"sa":["a","b","zz"],"sl":["a","c","a"],"cache_key":["a/a","b/c","[UNK]/a"]}`,
				// mly's server panics and drops the connection on this order.
				`{"sa":["a","b","zz"],"sl":["a","c","a"],"cache_key":["a/a","b/c","[UNK]/a"],"batch_size":3}`,
				`{"cache_key":["a/a","b/c","[UNK]/a"],"sl":["a","c","a"],"batch_size":3,"sa":["a","b","zz"]}`,
			} {
				if got := data(t, post(t, client, "sli", body)); got != want {
					t.Fatalf("%s: data %s, want %s", body, got, want)
				}
			}
			// A length-1 array is broadcast to batch_size rows.
			if got := data(t, post(t, client, "sli", `{"sa":["a"],"batch_size":2,"sl":["a","c"]}`)); got != `[{"expand":25},{"expand":15}]` {
				t.Fatalf("broadcast: data %s", got)
			}
			// batch_size 1 still answers a list, as mly.
			if got := data(t, post(t, client, "sli", `{"batch_size":1,"sa":["a"],"sl":["a"]}`)); got != `[{"expand":25}]` {
				t.Fatalf("batch_size 1: data %s", got)
			}
		})
	}
}

func TestBadRequestsAre400NamingTheProblem(t *testing.T) {
	needServer(t)
	cases := []struct{ body, want string }{
		{`{"sa":"a"}`, "missing input 'sl'"},
		{`{"sa":"a","sl":"a","zz":1}`, "unknown field 'zz'"},
		{`{"sa":1,"sl":"a"}`, "field 'sa': expected a string"},
		{`{"batch_size":2,"sa":["a","b","c"],"sl":["a"]}`, `field "sa": 3 values for batch_size 2`},
		{`{"sa":["a","b"],"sl":["a","b"]}`, `field "sa": want a single value (an array needs batch_size)`},
		{`{"batch_size":2,"sa":"a","sl":["a"]}`, `field "sa": with batch_size, want an array`},
		{`{"batch_size":0,"sa":["a"],"sl":["a"]}`, "batch_size: want a whole number"},
		{`{"batch_size":"2","sa":["a"],"sl":["a"]}`, "batch_size: want a whole number"},
		{`{"batch_size":2,"sa":["a"],"sl":["a"],"cache_key":"a/a"}`, "cache_key: with batch_size 2"},
		{`{"sa":"a","sl":"a","cache_key":["a/a"]}`, "cache_key: want a string"},
		{`{"sa":{"x":1},"sl":"a"}`, `field "sa": want a single value, got an object`},
		{`{"sa":"a","sl":"a"`, "body is not a JSON object"},
		{`["a","a"]`, "body is not a JSON object"},
		{`{"sa":"a","sl":"a"} {"sa":"b"}`, "data after the JSON object"},
		{`{"batch_size":2,"sa":["a",1],"sl":["a"]}`, "row 1: field 'sa': expected a string"},
		{``, "empty body"},
	}
	for name, client := range clients() {
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				msg := errorText(t, post(t, client, "sli", c.body), http.StatusBadRequest)
				if !strings.Contains(msg, c.want) {
					t.Errorf("%s: error %q, want it to contain %q", c.body, msg, c.want)
				}
			}
			r := do(t, client, http.MethodGet, "/v1/api/model/sli/eval?sa=a", "")
			if msg := errorText(t, r, http.StatusBadRequest); !strings.Contains(msg, "missing input 'sl'") {
				t.Errorf("GET missing field: %q", msg)
			}
			r = do(t, client, http.MethodGet, "/v1/api/model/ko/eval?i=x", "")
			if msg := errorText(t, r, http.StatusBadRequest); !strings.Contains(msg, `field "i": want an integer`) {
				t.Errorf("GET mistyped field: %q", msg)
			}
			// The connection is still good after the errors.
			if got := data(t, post(t, client, "sli", `{"sa":"a","sl":"a"}`)); got != `{"expand":25}` {
				t.Fatalf("after the errors: %s", got)
			}
		})
	}
}

func TestUnknownModelPathAndMethod(t *testing.T) {
	needServer(t)
	for name, client := range clients() {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{
				"/v1/api/model/nope/eval",
				"/v1/api/model/nope/meta/config",
				"/v1/api/model/sli/meta/nope",
				"/v1/api/model/sli/eval/",
				"/nope",
			} {
				errorText(t, do(t, client, http.MethodGet, path, ""), http.StatusNotFound)
			}
			r := do(t, client, http.MethodDelete, "/v1/api/model/sli/eval", "")
			errorText(t, r, http.StatusMethodNotAllowed)
			if allow := r.header.Get("Allow"); !strings.Contains(allow, "POST") {
				t.Fatalf("405 without Allow: %q", allow)
			}
		})
	}
}

func TestModelFailureIs500AndTheServerKeepsServing(t *testing.T) {
	needServer(t)
	for name, client := range clients() {
		t.Run(name, func(t *testing.T) {
			msg := errorText(t, post(t, client, "ko", `{"i":1099511627776}`), http.StatusInternalServerError)
			if !strings.Contains(msg, "model failure") || !strings.Contains(msg, "outside int32") {
				t.Fatalf("error %q", msg)
			}
			if got := data(t, post(t, client, "ko", `{"i":4}`)); got != `{"i0_copy":4,"i1_copy":4}` {
				t.Fatalf("after the failure: %s", got)
			}
		})
	}
}

func TestBodyOverBufferSizeIs413(t *testing.T) {
	needServer(t)
	pad := strings.Repeat(" ", testBufferSize)
	body := `{"sa":"a",` + pad + `"sl":"a"}`
	for name, client := range clients() {
		t.Run(name, func(t *testing.T) {
			errorText(t, post(t, client, "sli", body), http.StatusRequestEntityTooLarge)
			// Without a Content-Length (chunked / streamed), the limit holds while reading.
			req, _ := http.NewRequest(http.MethodPost, testURL+"/v1/api/model/sli/eval", io.MultiReader(strings.NewReader(body)))
			req.ContentLength = -1
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(text, []byte(`"status":"error"`)) {
				t.Fatalf("streamed: %d %s", resp.StatusCode, text)
			}
			// A body of exactly BufferSize bytes is accepted.
			exact := `{"sa":"a",` + strings.Repeat(" ", testBufferSize-len(`{"sa":"a","sl":"a"}`)) + `"sl":"a"}`
			if got := data(t, post(t, client, "sli", exact)); got != `{"expand":25}` {
				t.Fatalf("a body of BufferSize bytes: %s", got)
			}
		})
	}
}

// A client that sends a body larger than BufferSize over a raw HTTP/1.1 connection gets a
// complete JSON 413, not a dropped connection.
func TestOversizedBodyGetsAnAnswerOnTheWire(t *testing.T) {
	needServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(testURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := strings.Repeat("x", 2*testBufferSize)
	fmt.Fprintf(conn, "POST /v1/api/model/sli/eval HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.HasPrefix(text, []byte(`{"status":"error","error":`)) {
		t.Fatalf("%d %s", resp.StatusCode, text)
	}
}

func TestMetaConfigAndDictionaryAsMlysClientReadsThem(t *testing.T) {
	needServer(t)
	r := do(t, h1, http.MethodGet, "/v1/api/model/sli/meta/config", "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	var config struct {
		ID        string
		Cache     *struct{ SizeMb int }
		Inputs    []struct{ Name, DataType string }
		KeyFields []string
		Outputs   []struct{ Name, DataType string }
	}
	if err := json.Unmarshal(r.body, &config); err != nil {
		t.Fatal(err)
	}
	if config.ID != "sli" || config.Cache == nil || config.Cache.SizeMb != 16 || len(config.Inputs) != 2 ||
		config.Inputs[0].Name != "sa" || config.Inputs[1].DataType != "string" ||
		strings.Join(config.KeyFields, ",") != "sa,sl" || config.Outputs[0].DataType != "int64" {
		t.Fatalf("config %s", r.body)
	}
	// The dictionary is always gzip, whatever the client accepts (mly's way).
	req, _ := http.NewRequest(http.MethodGet, testURL+"/v1/api/model/sli/meta/dictionary", nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("dictionary Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var dict struct {
		Layers []struct {
			Name    string
			Strings []string
		}
		Hash json.Number
	}
	if err := json.NewDecoder(zr).Decode(&dict); err != nil {
		t.Fatal(err)
	}
	if dict.Hash.String() != sliHash || len(dict.Layers) != 2 || strings.Join(dict.Layers[0].Strings, ",") != ",[UNK],a,b,c" {
		t.Fatalf("dictionary %+v", dict)
	}
}

func TestReadThroughARepeatIsNotEvaluated(t *testing.T) {
	needServer(t)
	evaluated := func() int64 { return stats(t, "vec").Runtime.Model.RowsEvaluated }
	step := func(what string, body string, client *http.Client, wantEvaluated int64) string {
		t.Helper()
		before := evaluated()
		got := data(t, post(t, client, "vec", body))
		if n := evaluated() - before; n != wantEvaluated {
			t.Fatalf("%s: %d rows evaluated, want %d", what, n, wantEvaluated)
		}
		return got
	}
	// tv is a wildcard (its raw text is in the key): a text of this run's own is a new key.
	tv := fmt.Sprintf("a b c %d", time.Now().UnixNano())
	first := step("first", `{"tv":"`+tv+`","sl":"a"}`, h2c, 1)
	if again := step("repeat", `{"sl":"a","tv":"`+tv+`"}`, h1, 0); again != first {
		t.Fatalf("repeat answered %s, first %s", again, first)
	}
	// Two out-of-vocabulary spellings of sl (both [UNK]) in one batch: evaluated once.
	oov := step("OOV batch", `{"batch_size":2,"tv":["`+tv+`"],"sl":["qq","rr"]}`, h1, 1)
	// A third spelling later: from the cache.
	if got := step("OOV repeat", `{"tv":"`+tv+`","sl":"ss"}`, h2c, 0); "["+got+","+got+"]" != oov {
		t.Fatalf("OOV answers %s and %s", oov, got)
	}
}

func TestCacheKeyDisagreementsAreCounted(t *testing.T) {
	needServer(t)
	before := stats(t, "sli").Runtime.Server.CacheKeyDisagreements
	data(t, post(t, h1, "sli", `{"batch_size":2,"sa":["a","zz"],"sl":["b","b"],"cache_key":["a/b","zz/b"]}`))
	after := stats(t, "sli").Runtime.Server.CacheKeyDisagreements
	if after-before != 1 { // ours is [UNK]/b
		t.Fatalf("disagreements %d → %d, want one more", before, after)
	}
}

// A server whose models have stopped taking requests (it is shutting down) answers 503 JSON.
func TestShuttingDownIs503(t *testing.T) {
	needServer(t)
	srv := New(testServer.Description())
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	for _, m := range srv.models {
		m.batcher.Close()
	}
	for name, client := range clients() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/v1/api/model/sli/eval", strings.NewReader(`{"sa":"a","sl":"a"}`))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !bytes.HasPrefix(body, []byte(`{"status":"error","error":"the server is shutting down"}`)) {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
}
