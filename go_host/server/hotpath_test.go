package server

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// The request hot path in Go, without sockets: the whole handler chain of mlbridge-server
// (metrics, access, recover, mux, eval) on a memo hit, and its allocations. Measured with
//
//	go test -run '^$' -bench HotPath -benchmem ./server/
//
// (no runtime needed: the memo answers; the runtime is never called).

// discardWriter is a reusable http.ResponseWriter that keeps the status and the body's size.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) { w.status = code }

func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// reusableBody is a request body read again from the start for every request.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

func hotPathServer(tb testing.TB) (http.Handler, *http.Request, *reusableBody) {
	tb.Helper()
	d := &Description{
		Endpoint: Endpoint{Host: "127.0.0.1", BufferSize: 131072, ReadTimeoutMs: 5000, WriteTimeoutMs: 5000},
		Models: []ModelDescription{{ID: "vec", DictHash: -8094315438253665041, MemoTTLMs: 3600000,
			Fields: []Field{{Name: "tv", Kind: "string", Input: true}, {Name: "sl", Kind: "string", Input: true}}}},
	}
	srv := newServer(d, defaultMemoLimits)
	tb.Cleanup(func() { srv.models["vec"].batcher.Close() })
	if _, err := NewOpsWith(srv, OpsSettings{}); err != nil {
		tb.Fatal(err)
	}
	row := []byte(`{"tv":"a b c","sl":"a"}`)
	m := srv.models["vec"]
	m.memo.put(row, m.memo.seen.Load(), []byte(`{"expand":360}`), -8094315438253665041)
	body := &reusableBody{}
	body.Reset(row)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/v1/api/model/vec/eval", body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Body = body
	req.ContentLength = int64(len(row))
	return srv.HTTPServer().Handler, req, body
}

func BenchmarkHotPathMemoHit(b *testing.B) {
	h, req, body := hotPathServer(b)
	row := []byte(`{"tv":"a b c","sl":"a"}`)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		body.Reset(row)
		clear(w.header)
		w.n = 0
		h.ServeHTTP(w, req)
	}
	if w.status != http.StatusOK || w.n == 0 {
		b.Fatalf("status %d, %d bytes", w.status, w.n)
	}
}

func TestHotPathMemoHitAnswersWithoutTheRuntime(t *testing.T) {
	h, req, _ := hotPathServer(t)
	w := &discardWriter{header: http.Header{}}
	var out bytes.Buffer
	rec := &recordingWriter{discardWriter: w, out: &out}
	h.ServeHTTP(rec, req)
	want := `{"status":"ok","dictHash":-8094315438253665041,"serviceTimeMcs":`
	if w.status != http.StatusOK || !bytes.HasPrefix(out.Bytes(), []byte(want)) ||
		!bytes.HasSuffix(out.Bytes(), []byte(`,"data":{"expand":360}}`)) {
		t.Fatalf("%d %s", w.status, out.Bytes())
	}
	if got := w.header.Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q", got)
	}
}

type recordingWriter struct {
	*discardWriter
	out io.Writer
}

func (w *recordingWriter) Write(b []byte) (int, error) { return w.out.Write(b) }
