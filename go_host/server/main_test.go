package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mlbridge/go_host/metacall"
)

// The tests serve viant/mly's fixture models (MLBRIDGE_MLY_MODELS) from the real runtime,
// over real HTTP on a free loopback port, with HTTP/1.1 and HTTP/2 cleartext clients.

const modelsEnv = "MLBRIDGE_MLY_MODELS"

// testBufferSize is the test endpoint's BufferSize (the largest body accepted).
const testBufferSize = 4096

var (
	testServer *Server
	testURL    string // http://127.0.0.1:PORT
	skipReason string
	h1, h2c    *http.Client
)

const testConfig = `Endpoint:
  Port: 0
  Host: 127.0.0.1
  BufferSize: %d
Models:
  - ID: sli
    URL: %[2]s/string_lookups_int_model
    DataStore: sli
  - ID: ko
    URL: %[2]s/keyed_out_model
    UseDict: false
  - ID: vec
    URL: %[2]s/vectorization_int_model
    DataStore: sli
    Inputs:
      - Name: tv
        Wildcard: true
  - ID: vecb
    URL: %[2]s/vectorization_int_model
    DataStore: sli
    Inputs:
      - Name: tv
        Wildcard: true
    Batch:
      MaxBatchSize: 64
      BatchWaitMicros: 300000
      MaxEvaluatorConcurrency: 1
  - ID: tiny
    URL: %[2]s/string_lookups_int_model
    DataStore: sli
    Batch:
      MaxBatchSize: 1
      BatchWaitMicros: 0
      MaxEvaluatorConcurrency: 1
      MaxQueuedBatches: 1
Datastores:
  - ID: sli
    Cache:
      SizeMb: 16
`

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	models := os.Getenv(modelsEnv)
	if models == "" {
		skipReason = modelsEnv + " is not set (viant/mly's fixture models)"
		return m.Run()
	}
	if err := metacall.Initialize(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer metacall.Destroy()
	dir, err := os.MkdirTemp("", "mlbridge-server-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(testConfig, testBufferSize, models)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	desc, err := Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testServer = New(desc)
	l, err := testServer.Listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = testServer.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = testServer.Shutdown(ctx)
	}()
	testURL = "http://" + l.Addr().String()
	h1 = &http.Client{Timeout: 30 * time.Second}
	h2 := new(http.Protocols)
	h2.SetUnencryptedHTTP2(true)
	h2c = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Protocols: h2}}
	return m.Run()
}

func needServer(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// reply is one HTTP exchange's outcome.
type reply struct {
	status   int
	proto    string
	header   http.Header
	body     []byte
	envelope map[string]json.RawMessage
}

func do(t testing.TB, client *http.Client, method, path, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, testURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode, proto: resp.Proto, header: resp.Header, body: data}
	if method != http.MethodHead && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&r.envelope); err != nil {
			t.Fatalf("%s %s: body %q is not one JSON object: %v", method, path, data, err)
		}
		if dec.More() {
			t.Fatalf("%s %s: two bodies in one response: %q", method, path, data)
		}
	}
	return r
}

func post(t testing.TB, client *http.Client, model, body string) reply {
	t.Helper()
	return do(t, client, http.MethodPost, "/v1/api/model/"+model+"/eval", body)
}

func clients() map[string]*http.Client {
	return map[string]*http.Client{"HTTP/1.1": h1, "HTTP/2.0": h2c}
}

// data returns the "data" of a 200 answer, failing the test on anything else.
func data(t testing.TB, r reply) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q", got)
	}
	if string(r.envelope["status"]) != `"ok"` {
		t.Fatalf("status field %s in %s", r.envelope["status"], r.body)
	}
	return string(r.envelope["data"])
}

// errorText returns the "error" of a JSON error answer with the wanted status.
func errorText(t testing.TB, r reply, status int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Fatalf("error Content-Type %q, body %q", got, r.body)
	}
	if string(r.envelope["status"]) != `"error"` {
		t.Fatalf("status field %s in %s", r.envelope["status"], r.body)
	}
	var msg string
	if err := json.Unmarshal(r.envelope["error"], &msg); err != nil || msg == "" {
		t.Fatalf("no error message in %s", r.body)
	}
	return msg
}

// stats reads the model's counters from /meta/stats.
type modelStats struct {
	ActiveEvaluators int64 `json:"activeEvaluators"`
	BatchQueueLen    int64 `json:"batchQueueLen"`
	Batches          int64 `json:"batches"`
	Requests         int64 `json:"requests"`
	Overloaded       int64 `json:"overloaded"`
	Runtime          struct {
		Server struct {
			Requests              int64 `json:"requests"`
			CacheKeyDisagreements int64 `json:"cache_key_disagreements"`
		} `json:"server"`
		Model struct {
			Calls         int64 `json:"calls"`
			Rows          int64 `json:"rows"`
			Evaluations   int64 `json:"evaluations"`
			RowsEvaluated int64 `json:"rows_evaluated"`
		} `json:"model"`
	} `json:"runtime"`
}

func stats(t testing.TB, model string) modelStats {
	t.Helper()
	r := do(t, h1, http.MethodGet, "/v1/api/model/"+model+"/meta/stats", "")
	if r.status != http.StatusOK {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	var s modelStats
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("stats %s: %v", r.body, err)
	}
	return s
}

func TestServerListensWhereConfigured(t *testing.T) {
	needServer(t)
	host, _, err := net.SplitHostPort(strings.TrimPrefix(testURL, "http://"))
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("listening on %s, want Endpoint.Host 127.0.0.1", testURL)
	}
	if got := testServer.Description().Endpoint.BufferSize; got != testBufferSize {
		t.Fatalf("BufferSize %d from the runtime, want %d", got, testBufferSize)
	}
}
