package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"mlbridge/go_host/metacall"
)

// The operational side of the server: what a load balancer, Prometheus and an operator use.
//
//	/v1/api/health                      mly's {"<id>": 1} (0 after a failed reload); open to all
//	/v1/api/ready                       200 when every model is loaded and warmed; 503 while draining
//	/metrics, /v1/prometheus            Prometheus text (one runtime snapshot per scrape)
//	/v1/api/metric/operations           mly's (gmetric's) JSON operations
//	/v1/api/metric/operation/{name}     one of them (null when unknown, as mly)
//	/v1/api/openapi.json                the OpenAPI document of the whole API
//	/v1/api/config/                     the runtime's description of the configuration (AllowedSubnet)
//	/v1/api/debug/pprof/…               Go profiles when EnableCPUProf/EnableMemProf (AllowedSubnet)
//
// Every path but health and ready needs the bearer token when one is configured; config and
// debug also need a client address inside AllowedSubnet. Refusals are JSON 401/403 and never
// reach the runtime.

// The runtime functions the ops endpoints call (bridge/mly/ops.py).
const (
	opsSnapshotFunc = "mlbridge.ops.snapshot"
	opsHealthFunc   = "mlbridge.ops.health"
	opsFlushFunc    = "mlbridge.ops.flush"
	opsSettingsFunc = "mlbridge.ops.settings"
)

// TokenEnv names the environment variable holding the bearer token when the configuration
// gives no Endpoint.AuthTokenFile.
const TokenEnv = "MLBRIDGE_AUTH_TOKEN"

// OpsSettings are the configuration's operational settings, as the runtime resolved them.
type OpsSettings struct {
	// AllowedSubnet holds CIDR ranges (mly's "10." prefixes already turned into 10.0.0.0/8).
	AllowedSubnet []string `json:"allowedSubnet"`
	AuthTokenFile string   `json:"authTokenFile"`
	TLSCertFile   string   `json:"tlsCertFile"`
	TLSKeyFile    string   `json:"tlsKeyFile"`
	EnableCPUProf bool     `json:"enableCPUProf"`
	EnableMemProf bool     `json:"enableMemProf"`
}

// Ops serves the operational endpoints of a Server and drains it.
type Ops struct {
	srv      *Server
	settings OpsSettings
	access   *access
	metrics  *metrics
	draining atomic.Bool
	tls      *tls.Config
	routes   []string // the patterns mounted here (the OpenAPI test checks them)
}

func (o *Ops) handle(pattern string, h http.Handler) {
	o.routes = append(o.routes, pattern)
	o.srv.Handle(pattern, h)
}

// NewOps asks the runtime for the operational settings, mounts the endpoints on srv and
// wraps its handler with access control and request metrics. Call it before Serve.
func NewOps(srv *Server) (*Ops, error) {
	var settings OpsSettings
	if err := callJSON(opsSettingsFunc, &settings); err != nil {
		return nil, err
	}
	return NewOpsWith(srv, settings)
}

// callJSON calls a runtime function that answers JSON text and decodes it into out.
func callJSON(function string, out any, args ...interface{}) error {
	got, err := metacall.Call(function, args...)
	if err != nil {
		return err
	}
	text, ok := got.(string)
	if !ok {
		return fmt.Errorf("%s returned %T, want a JSON string", function, got)
	}
	if err := json.Unmarshal([]byte(text), out); err != nil {
		return fmt.Errorf("%s: %w", function, err)
	}
	return nil
}

// NewOpsWith is NewOps with the settings given (tests).
func NewOpsWith(srv *Server, settings OpsSettings) (*Ops, error) {
	acc, err := newAccess(settings)
	if err != nil {
		return nil, err
	}
	o := &Ops{srv: srv, settings: settings, access: acc, metrics: newMetrics(srv)}
	if o.tls, err = loadTLS(settings); err != nil {
		return nil, err
	}
	if o.tls != nil {
		hs := srv.HTTPServer()
		hs.TLSConfig = o.tls
		hs.Protocols.SetHTTP2(true)
	}
	o.handle("/v1/api/health", http.HandlerFunc(o.serveHealth))
	o.handle("/v1/api/ready", http.HandlerFunc(o.serveReady))
	o.handle("/v1/api/config/", http.HandlerFunc(o.serveConfig))
	o.handle("/v1/api/openapi.json", http.HandlerFunc(serveOpenAPI))
	o.metrics.mount(o.handle)
	o.mountProfiles(settings)
	// Refusals are counted (by status) but reach nothing behind the access check.
	srv.HTTPServer().Handler = o.metrics.wrap(acc.wrap(srv.Handler()))
	return o, nil
}

// mountProfiles mounts Go's profiles under /v1/api/debug/: the CPU ones (profile, trace)
// with EnableCPUProf, the memory ones (heap, allocs, and mly's /v1/api/debug/memprof) with
// EnableMemProf; the index, goroutine, block, mutex, threadcreate, cmdline and symbol with either.
func (o *Ops) mountProfiles(s OpsSettings) {
	if !s.EnableCPUProf && !s.EnableMemProf {
		return
	}
	const prefix = "/v1/api/debug/pprof/"
	o.handle(prefix+"{$}", http.HandlerFunc(pprof.Index)) // its links are relative: name?debug=1
	o.handle(prefix+"cmdline", http.HandlerFunc(pprof.Cmdline))
	o.handle(prefix+"symbol", http.HandlerFunc(pprof.Symbol))
	for _, name := range []string{"goroutine", "block", "mutex", "threadcreate"} {
		o.handle(prefix+name, pprof.Handler(name))
	}
	if s.EnableCPUProf {
		o.handle(prefix+"profile", http.HandlerFunc(pprof.Profile))
		o.handle(prefix+"trace", http.HandlerFunc(pprof.Trace))
	}
	if s.EnableMemProf {
		o.handle(prefix+"heap", pprof.Handler("heap"))
		o.handle(prefix+"allocs", pprof.Handler("allocs"))
		o.handle("/v1/api/debug/memprof", pprof.Handler("heap"))
	}
}

// Serve answers on l (TLS when the configuration gives a certificate) until Drain.
func (o *Ops) Serve(l net.Listener) error {
	if o.tls == nil {
		return o.srv.Serve(l)
	}
	err := o.srv.HTTPServer().ServeTLS(l, "", "") // the certificate is in TLSConfig
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Scheme is "https" with TLS, else "http".
func (o *Ops) Scheme() string {
	if o.tls != nil {
		return "https"
	}
	return "http"
}

// Drain stops the server the graceful way: readiness answers 503 at once, new connections are
// refused, requests in flight are answered, the models' queues are emptied, and the
// datastores' background writes are flushed (they reach Redis before the process exits).
func (o *Ops) Drain(ctx context.Context) error {
	o.draining.Store(true)
	err := o.srv.Shutdown(ctx)
	if _, ferr := metacall.CallContext(ctx, opsFlushFunc); ferr != nil && err == nil {
		err = fmt.Errorf("flushing the cache writes: %w", ferr)
	}
	return err
}

// Draining reports whether Drain has begun.
func (o *Ops) Draining() bool { return o.draining.Load() }

func (o *Ops) serveHealth(w http.ResponseWriter, r *http.Request) {
	out, err := metacall.CallContext(r.Context(), opsHealthFunc)
	text, ok := out.(string)
	if err != nil || !ok {
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("health: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, []byte(text))
}

func (o *Ops) serveReady(w http.ResponseWriter, _ *http.Request) {
	if o.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "draining: finishing the requests in flight")
		return
	}
	// The models are loaded and warmed before the server exists (Load returns after both).
	writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
}

func (o *Ops) serveConfig(w http.ResponseWriter, _ *http.Request) {
	body, err := json.Marshal(o.srv.Description())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// HandlerTimeout is how long an eval request may wait for its model, given the endpoint's
// WriteTimeout: the rest is left to write the 503 before net/http's write deadline would cut
// the connection (a tenth of it, at least 50 ms, at most half).
func HandlerTimeout(writeTimeout time.Duration) time.Duration {
	margin := min(max(writeTimeout/10, 50*time.Millisecond), writeTimeout/2)
	return writeTimeout - margin
}

// DrainTimeout is how long Drain may take: the endpoint's WriteTimeout (a request accepted
// just before the signal has that long to be answered), at least one second.
func DrainTimeout(e Endpoint) time.Duration {
	return max(e.WriteTimeout(), time.Second)
}
