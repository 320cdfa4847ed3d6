package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"mlbridge/go_host/metacall"
)

// Before the models load: the server opens its port at once, so that a load balancer sees
// readiness 503 (not a refused connection) while the models load and warm, then hands the
// same listener and net/http server to the loaded Server.

// previewScript registers the runtime function that parses a configuration without loading
// it (bridge/mly/ops.py preview); it is loaded from memory because no configuration is loaded
// yet to register it.
const (
	previewFunc   = "mlbridge_ops_preview"
	previewScript = "def " + previewFunc + "(path):\n" +
		"    from bridge.mly.ops import preview\n" +
		"    return preview(path)\n"
)

// Preview is what the runtime says about a configuration before loading its models.
type Preview struct {
	Endpoint Endpoint    `json:"endpoint"`
	Ops      OpsSettings `json:"ops"`
}

var loadPreview sync.Once

// ReadPreview asks the runtime (metacall must be initialized) to parse the configuration at
// path and return its endpoint and access settings; no model is loaded.
func ReadPreview(path string) (*Preview, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	var loadErr error
	loadPreview.Do(func() { loadErr = metacall.LoadFromMemory("py", previewScript) })
	if loadErr != nil {
		return nil, loadErr
	}
	var p Preview
	if err := callJSON(previewFunc, &p, abs); err != nil {
		return nil, err
	}
	return &p, nil
}

// newHTTPServer is the net/http server for an endpoint: its limits, HTTP/1.1 and HTTP/2
// cleartext (prior knowledge, which mly's Go client uses).
func newHTTPServer(e Endpoint, h http.Handler) *http.Server {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Addr:              net.JoinHostPort(e.Host, strconv.Itoa(e.Port)),
		Handler:           h,
		Protocols:         protocols,
		ReadHeaderTimeout: e.ReadTimeout(),
		ReadTimeout:       e.ReadTimeout(),
		WriteTimeout:      e.WriteTimeout(),
		MaxHeaderBytes:    e.MaxHeaderBytes,
	}
}

// loadTLS is the TLS configuration of the settings: nil without TLS, an error when only one
// file is given or the pair cannot be loaded (mly's check is inverted: it refuses readable
// files; ours refuses unusable ones).
func loadTLS(s OpsSettings) (*tls.Config, error) {
	if s.TLSCertFile == "" && s.TLSKeyFile == "" {
		return nil, nil
	}
	if s.TLSCertFile == "" || s.TLSKeyFile == "" {
		return nil, errors.New("TLS needs both CertFile and KeyFile")
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Starting is a server whose models are still loading: every path answers a JSON 503.
type Starting struct {
	http     *http.Server
	listener net.Listener
	tls      bool
	handler  atomic.Pointer[http.Handler]
	done     chan error
}

// Start opens the endpoint's address (TLS when the settings give a certificate) and answers
// 503 until Handover.
func Start(e Endpoint, s OpsSettings) (*Starting, error) {
	cfg, err := loadTLS(s)
	if err != nil {
		return nil, err
	}
	st := &Starting{done: make(chan error, 1), tls: cfg != nil}
	loading := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusServiceUnavailable, "starting: the models are loading")
	}))
	st.handler.Store(&loading)
	st.http = newHTTPServer(e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*st.handler.Load()).ServeHTTP(w, r)
	}))
	if cfg != nil {
		st.http.TLSConfig = cfg
		st.http.Protocols.SetHTTP2(true)
	}
	if st.listener, err = net.Listen("tcp", st.http.Addr); err != nil {
		return nil, err
	}
	go func() {
		var err error
		if st.tls {
			err = st.http.ServeTLS(st.listener, "", "")
		} else {
			err = st.http.Serve(st.listener)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		st.done <- err
	}()
	return st, nil
}

// Addr is the address listened on.
func (st *Starting) Addr() net.Addr { return st.listener.Addr() }

// Scheme is "https" with TLS, else "http".
func (st *Starting) Scheme() string {
	if st.tls {
		return "https"
	}
	return "http"
}

// Done receives Serve's result once the server stops (nil after a drain).
func (st *Starting) Done() <-chan error { return st.done }

// Handover makes the loaded server answer on the starting server's listener: the requests
// from then on reach o's handler, and o.Drain shuts this net/http server down.
func (st *Starting) Handover(o *Ops) {
	h := o.srv.http.Handler
	o.srv.http = st.http
	st.handler.Store(&h)
}

// Close stops a server that never got its models (a failed load).
func (st *Starting) Close() error { return st.http.Close() }
