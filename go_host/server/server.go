// Package server is mlbridge's HTTP service: viant/mly's REST API over the one embedded
// runtime. The models, the prediction cache and the configuration all live in the runtime
// (bridge.mly); this package decodes requests, coalesces concurrent requests into one runtime
// call per batch (metacall.Batcher), and writes mly's responses. A request it answered before,
// byte for byte, is answered from its memo without the runtime (memo.go).
//
//	/v1/api/model/{id}/eval               GET (query: one row), POST or PUT (JSON body)
//	/v1/api/model/{id}/meta/config        mly's config.Remote (what mly's Go client reads)
//	/v1/api/model/{id}/meta/dictionary    the model's dictionary, always gzip
//	/v1/api/model/{id}/meta/stats         batching and cache counters
//
// Every error is {"status":"error","error":"…"} with its status: 400 bad request (naming the
// field), 404 unknown model or path, 405 method, 413 body over Endpoint.BufferSize, 429 the
// model's queue is full, 500 model failure, 503 shutting down or past the deadline.
// HTTP/1.1 and HTTP/2 cleartext with prior knowledge (which mly's Go client uses) are served.
package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mlbridge/go_host/metacall"
)

// Server serves the models of one loaded configuration.
type Server struct {
	desc    *Description
	models  map[string]*model
	mux     *http.ServeMux
	handler http.Handler
	http    *http.Server
	bodies  sync.Pool
	closed  sync.Once
}

// New builds the server for a loaded configuration (see Load); it starts one Batcher per
// model. Close it with Shutdown.
func New(d *Description) *Server { return newServer(d, defaultMemoLimits) }

// newServer is New with the memo's bounds (tests give small ones).
func newServer(d *Description, limits memoLimits) *Server {
	s := &Server{desc: d, models: make(map[string]*model, len(d.Models)), mux: http.NewServeMux()}
	limit := d.Endpoint.BufferSize
	s.bodies.New = func() interface{} { b := make([]byte, 0, min(limit+1, 64<<10)); return &b }
	for _, md := range d.Models {
		s.models[md.ID] = newModel(md, limits)
	}
	s.mux.HandleFunc("/v1/api/model/{id}/eval", s.serveEval)
	s.mux.HandleFunc("/v1/api/model/{id}/meta/{what}", s.serveMeta)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such path: "+r.URL.Path)
	})
	s.handler = recoverJSON(http.HandlerFunc(s.route))
	s.http = newHTTPServer(d.Endpoint, s.handler) // starting.go: shared with the start-up server
	return s
}

// Description is the runtime's description of the served configuration.
func (s *Server) Description() *Description { return s.desc }

// Handle registers another handler on the server's mux (operational endpoints).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the server's HTTP handler (for tests and for wrapping).
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer is the underlying net/http server (its Handler may be wrapped before Serve).
func (s *Server) HTTPServer() *http.Server { return s.http }

// Listen opens the endpoint's address (Endpoint.Host:Endpoint.Port; port 0 picks a free one).
func (s *Server) Listen() (net.Listener, error) {
	return net.Listen("tcp", s.http.Addr)
}

// Serve answers requests on l until Shutdown; it returns nil after a Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for the requests in flight (until ctx ends), then closes
// the models' Batchers (their queued items are answered first).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.closed.Do(func() {
		for _, m := range s.models {
			m.batcher.Close()
		}
	})
	return err
}

// recoverJSON turns a handler panic into a JSON 500 instead of a dropped connection.
func recoverJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				writeError(w, http.StatusInternalServerError, fmt.Sprintf("internal error: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// evalPrefix and evalSuffix frame an eval path: /v1/api/model/{id}/eval.
const (
	evalPrefix = "/v1/api/model/"
	evalSuffix = "/eval"
)

// evalModel is the served model of a clean eval path (/v1/api/model/{id}/eval with a
// served id), or nil: the mux routes every other path, unclean ones included.
func (s *Server) evalModel(path string) *model {
	rest, ok := strings.CutPrefix(path, evalPrefix)
	if !ok {
		return nil
	}
	id, ok := strings.CutSuffix(rest, evalSuffix)
	if !ok || strings.IndexByte(id, '/') >= 0 {
		return nil
	}
	return s.models[id]
}

// route sends an eval request of a served model straight to its handler (the hot path: no
// pattern matching), everything else through the mux.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if m := s.evalModel(r.URL.Path); m != nil {
		s.eval(w, r, m)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) *model {
	id := r.PathValue("id")
	m := s.models[id]
	if m == nil {
		writeError(w, http.StatusNotFound, "no model "+strconv.Quote(id))
	}
	return m
}

func (s *Server) serveEval(w http.ResponseWriter, r *http.Request) {
	if m := s.model(w, r); m != nil {
		s.eval(w, r, m)
	}
}

func (s *Server) eval(w http.ResponseWriter, r *http.Request, m *model) {
	start := requestStart(w)
	// key is what the memo knows the request by: the body, or '?' and the query. The memo is
	// read before the body is decoded, so a body that starts with '?' (never JSON) has no key:
	// it must not find a GET's answer, it gets its 400.
	var (
		key  []byte
		body []byte
		err  error
	)
	query := false
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		query = true
		if m.memo != nil {
			buf := getBuffer()
			defer putBuffer(buf)
			key = append(append((*buf)[:0], '?'), r.URL.RawQuery...)
			*buf = key
		}
	case http.MethodPost, http.MethodPut:
		buf := s.bodies.Get().(*[]byte)
		defer s.bodies.Put(buf)
		body, err = s.readBody(r, buf)
		if len(body) > 0 && body[0] != '?' {
			key = body
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, PUT")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: GET with a query, POST or PUT with a JSON body")
		return
	}
	if err != nil {
		writeFailure(w, err)
		return
	}
	// The version is read before the runtime call: an answer is kept only if no reload
	// happened since (memo.put).
	var version uint64
	if m.memo != nil && key != nil {
		version = metacall.ModelsVersion()
		if data, dictHash, ok := m.memo.get(key, version, memoTime(start)); ok {
			writeAnswer(w, m.envelope(dictHash), time.Since(start), data)
			return
		}
	}
	var req *evalRequest
	if query {
		req, err = decodeQuery(r.URL.RawQuery, m.fields)
	} else {
		req, err = decodeBody(body)
	}
	if err != nil {
		writeFailure(w, err)
		return
	}
	ctx := r.Context()
	if wt := s.desc.Endpoint.WriteTimeout(); wt > 0 {
		// Answer (503) before net/http's write deadline would cut the connection.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, HandlerTimeout(wt))
		defer cancel()
	}
	ans, err := m.evaluate(ctx, req)
	if err != nil {
		writeFailure(w, err)
		return
	}
	out := getBuffer()
	b := appendEnvelope((*out)[:0], m.envelope(ans.dictHash), time.Since(start).Microseconds())
	from := len(b)
	b = appendData(b, ans.rows, req.batch)
	// Kept before it is written: a client that has the answer finds it in the memo. A request
	// whose cache_key differs from the runtime's key is not kept: the runtime counts the
	// disagreements of every such request.
	if m.memo != nil && key != nil && (req.cacheKeys == nil || ans.keysAgreed) {
		m.memo.put(key, version, b[from:], ans.dictHash)
	}
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
	*out = b
	putBuffer(out)
}

// writeAnswer writes a success whose data is already encoded (a memo hit).
func writeAnswer(w http.ResponseWriter, head []byte, took time.Duration, data []byte) {
	out := getBuffer()
	b := appendEnvelope((*out)[:0], head, took.Microseconds())
	b = append(append(b, data...), '}')
	writeJSON(w, http.StatusOK, b)
	*out = b
	putBuffer(out)
}

// bodyTooLarge is a body over Endpoint.BufferSize.
type bodyTooLarge struct{ limit int }

func (e *bodyTooLarge) Error() string {
	return fmt.Sprintf("request body over Endpoint.BufferSize (%d bytes)", e.limit)
}

// readBody reads the whole body into buf, or fails once it passes the endpoint's BufferSize.
func (s *Server) readBody(r *http.Request, buf *[]byte) ([]byte, error) {
	limit := s.desc.Endpoint.BufferSize
	if r.ContentLength > int64(limit) {
		return nil, &bodyTooLarge{limit}
	}
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			if len(b) > limit {
				*buf = b[:0]
				return nil, &bodyTooLarge{limit}
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*buf = b[:0]
			return nil, badRequest("reading the body: %v", err)
		}
	}
	*buf = b[:0]
	if len(b) > limit {
		return nil, &bodyTooLarge{limit}
	}
	return b, nil
}

func writeFailure(w http.ResponseWriter, err error) {
	var (
		bad   *requestError
		large *bodyTooLarge
		eval  *evalError
	)
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.msg)
	case errors.As(err, &large):
		writeError(w, http.StatusRequestEntityTooLarge, large.Error())
	case errors.As(err, &eval):
		writeError(w, eval.status, eval.msg)
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func (s *Server) serveMeta(w http.ResponseWriter, r *http.Request) {
	m := s.model(w, r)
	if m == nil {
		return
	}
	switch what := r.PathValue("what"); what {
	case "config":
		s.writeMeta(w, m, what, false)
	case "dictionary":
		s.writeMeta(w, m, what, true)
	case "stats":
		s.writeStats(w, m)
	default:
		writeError(w, http.StatusNotFound, "no meta "+strconv.Quote(what)+" (config, dictionary, stats)")
	}
}

func (s *Server) writeMeta(w http.ResponseWriter, m *model, what string, gzipped bool) {
	text, err := meta(m.id, what)
	if err != nil {
		writeFailure(w, classify(err))
		return
	}
	if !gzipped {
		writeJSON(w, http.StatusOK, []byte(text))
		return
	}
	// mly always gzips the dictionary, whatever Accept-Encoding says; its client relies on
	// Go's transport to unzip it.
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(text))
	_ = zw.Close()
	w.Header().Set("Content-Encoding", "gzip")
	writeJSON(w, http.StatusOK, zipped.Bytes())
}

func (s *Server) writeStats(w http.ResponseWriter, m *model) {
	text, err := meta(m.id, "stats")
	if err != nil {
		writeFailure(w, classify(err))
		return
	}
	// mly's fields first (activeEvaluators: batches running; batchQueueLen: requests
	// waiting; timeout: the batch wait in ns), then ours.
	st := m.batcher.Stats()
	b := []byte(`{"activeEvaluators":`)
	b = strconv.AppendInt(b, st.Running, 10)
	b = append(b, `,"batchQueueLen":`...)
	b = strconv.AppendInt(b, int64(st.Queued), 10)
	b = append(b, `,"shedding":`...)
	b = strconv.AppendBool(b, st.Queued >= m.options.MaxQueuedBatches*m.options.MaxBatchSize)
	b = append(b, `,"timeout":`...)
	b = strconv.AppendInt(b, int64(m.options.MaxWait), 10)
	b = fmt.Appendf(b, `,"batches":%d,"requests":%d,"overloaded":%d,"cancelled":%d,"memo":`,
		st.Batches, st.Items, st.Overloaded, st.Cancelled)
	if m.memo != nil { // memo.go: requests answered here, without the runtime
		memo, _ := json.Marshal(m.memo.stats())
		b = append(b, memo...)
	} else {
		b = append(b, "null"...)
	}
	b = fmt.Appendf(b, `,"runtime":%s}`, text)
	writeJSON(w, http.StatusOK, b)
}
