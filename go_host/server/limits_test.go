package server

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"mlbridge/go_host/metacall"
)

// A model that sleeps for x ms per batch: a deterministic slow model call.
const slowModelScript = `
import time

def opstest_slow(items):
    time.sleep(items[0][0][0]["x"] / 1000)
    return [[0, [{"y": 1} for _ in rows]] for rows, _keys in items]
`

var (
	slowModelOnce sync.Once // loaded once per process (go test -count=N)
	slowModelErr  error
)

func TestPastItsDeadlineARequestGets503AndIsNeverEvaluated(t *testing.T) {
	needServer(t)
	slowModelOnce.Do(func() { slowModelErr = metacall.LoadFromMemory("py", slowModelScript) })
	if slowModelErr != nil {
		t.Fatal(slowModelErr)
	}
	d := *testServer.Description()
	d.Endpoint.WriteTimeoutMs = 400
	s := startOps(t, OpsSettings{}, &d)
	// One model call at a time, one request per call: a request queued behind a slow call
	// waits its whole deadline.
	opts := metacall.BatcherOptions{MaxBatchSize: 1, Dispatchers: 1, QueueSize: 8}
	slow := &model{id: "slow", fields: map[string]Field{"x": {Name: "x", Kind: "int", Input: true}},
		options: opts, batcher: metacall.NewBatcher("opstest_slow", opts)}
	s.srv.models["slow"] = slow

	before := functionCalls(t)["opstest_slow"]
	var wg sync.WaitGroup
	replies := make([]reply, 2)
	took := make([]time.Duration, 2)
	for i, body := range []string{`{"x":1500}`, `{"x":0}`} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			replies[i] = s.send(t, http.MethodPost, "/v1/api/model/slow/eval", body)
			took[i] = time.Since(start)
		}()
		time.Sleep(100 * time.Millisecond) // the slow call is running before the second arrives
	}
	wg.Wait()
	for i, r := range replies {
		msg := errorText(t, r, http.StatusServiceUnavailable)
		if !strings.Contains(msg, "deadline") {
			t.Fatalf("request %d: %q", i, msg)
		}
		if took[i] > time.Second {
			t.Fatalf("request %d answered after %v, past WriteTimeoutMs 400", i, took[i])
		}
	}
	// The queued request was dropped when its turn came, not evaluated for nobody.
	deadline := time.Now().Add(10 * time.Second)
	for slow.batcher.Stats().Cancelled < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := slow.batcher.Stats(); st.Cancelled != 1 || st.Batches != 1 {
		t.Fatalf("batcher stats %+v, want 1 batch and 1 cancelled", st)
	}
	if n := functionCalls(t)["opstest_slow"] - before; n != 1 {
		t.Fatalf("the slow model was called %v times, want 1", n)
	}
	scrape := s.send(t, http.MethodGet, "/metrics", "")
	if n := sample(t, string(scrape.body), "mlbridge_model_expired_total", `model="slow"`); n != 1 {
		t.Fatalf("mlbridge_model_expired_total %v, want 1", n)
	}
	if n := sample(t, string(scrape.body), "mlbridge_http_requests_total", `model="slow"`, `code="503"`); n != 2 {
		t.Fatalf("503s counted %v, want 2", n)
	}
}

func TestHeaderOverMaxHeaderBytesIsRefusedAndTheServerGoesOn(t *testing.T) {
	needServer(t)
	d := *testServer.Description()
	d.Endpoint.MaxHeaderBytes = 1024
	s := startOps(t, OpsSettings{}, &d)
	r := s.send(t, http.MethodGet, "/v1/api/health", "", "X-Big: "+strings.Repeat("a", 8192))
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d for a header over MaxHeaderBytes", r.status)
	}
	if r := s.send(t, http.MethodGet, "/v1/api/health", ""); r.status != http.StatusOK {
		t.Fatalf("after: %d", r.status)
	}
}

func TestSlowClientIsCutAtReadTimeout(t *testing.T) {
	needServer(t)
	d := *testServer.Description()
	d.Endpoint.ReadTimeoutMs = 300
	s := startOps(t, OpsSettings{}, &d)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers, then a body that never completes.
	if _, err := conn.Write([]byte("POST /v1/api/model/ko/eval HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"i\":")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf) // an answer, then EOF; or EOF
	for err == nil {
		_, err = conn.Read(buf[n:])
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the connection stayed open %v past ReadTimeoutMs 300", waited)
	}
	if n > 0 && !strings.Contains(string(buf[:n]), "400") {
		t.Fatalf("answer to a body cut by ReadTimeout: %q", buf[:n])
	}
}
