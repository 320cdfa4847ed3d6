// The ops endpoints on a real listener: health and readiness, the Prometheus scrape, mly's
// operations JSON, token and subnet refusals, TLS, profiles and the start-up 503. Over 400
// lines because every test shares one ops server harness (startOps, send) with its own
// settings; one file per endpoint would scatter the access rules they all check.

package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The operational endpoints are tested on servers of their own (same runtime, same models as
// main_test.go's server) so that each test chooses its access settings and can drain its server.

// opsServer is one Ops-wrapped server on a free loopback port.
type opsServer struct {
	ops    *Ops
	srv    *Server
	url    string
	client *http.Client
}

func startOps(t *testing.T, settings OpsSettings, desc *Description) *opsServer {
	t.Helper()
	return startOpsWith(t, settings, desc, defaultMemoLimits)
}

// startOpsWith is startOps with the memo's bounds.
func startOpsWith(t *testing.T, settings OpsSettings, desc *Description, limits memoLimits) *opsServer {
	t.Helper()
	needServer(t)
	if desc == nil {
		desc = testServer.Description()
	}
	srv := newServer(desc, limits)
	o, err := NewOpsWith(srv, settings)
	if err != nil {
		t.Fatal(err)
	}
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = o.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = o.Drain(ctx)
	})
	return &opsServer{ops: o, srv: srv, url: o.Scheme() + "://" + l.Addr().String(), client: h1}
}

// get sends one request with the given headers ("Name: value").
func (s *opsServer) send(t *testing.T, method, path, body string, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, proto: resp.Proto, header: resp.Header, body: data}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &r.envelope); err != nil && data[0] == '{' {
			t.Fatalf("%s %s: body %q: %v", method, path, data, err)
		}
	}
	return r
}

// functionCalls reads the runtime's call counters (every host's calls of each function).
func functionCalls(t *testing.T) map[string]float64 {
	t.Helper()
	s, err := fetchSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64, len(s.Functions))
	for name, f := range s.Functions {
		out[name] = f.Calls
	}
	return out
}

func TestHealthIsMlysShapeAndReadyFollowsTheDrain(t *testing.T) {
	s := startOps(t, OpsSettings{}, nil)
	r := s.send(t, http.MethodGet, "/v1/api/health", "")
	var health map[string]int
	if err := json.Unmarshal(r.body, &health); r.status != http.StatusOK || err != nil {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
	models := testServer.Description().Models
	if len(health) != len(models) {
		t.Fatalf("health %s, want one entry per model (%d)", r.body, len(models))
	}
	for _, m := range models {
		if health[m.ID] != 1 {
			t.Fatalf("health %s, want every model at 1", r.body)
		}
	}
	if r := s.send(t, http.MethodGet, "/v1/api/ready", ""); r.status != http.StatusOK {
		t.Fatalf("ready: %d %s", r.status, r.body)
	}
	// While draining, readiness is 503 at once (a probe on a connection still open sees it).
	s.ops.draining.Store(true)
	rec := httptest.NewRecorder()
	s.srv.HTTPServer().Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/api/ready", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"status":"error"`) {
		t.Fatalf("ready while draining: %d %s", rec.Code, rec.Body)
	}
}

// sample finds one sample in Prometheus text: name{labels…} value (labels in any order).
func sample(t *testing.T, text, name string, labels ...string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		series, value, _ := strings.Cut(line, " ")
		for _, l := range labels {
			if !strings.Contains(series, l) {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return v
	}
	t.Fatalf("no sample %s%v in the scrape", name, labels)
	return 0
}

func TestPrometheusScrapeReadsOneRuntimeSnapshot(t *testing.T) {
	s := startOps(t, OpsSettings{}, nil)
	scrape := func(path string) string {
		r := s.send(t, http.MethodGet, path, "")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("%s: %d %s %.300s", path, r.status, r.header.Get("Content-Type"), r.body)
		}
		return string(r.body)
	}
	row := `{"sa":"ops-scrape","sl":"ops-scrape"}`
	for range 3 {
		data(t, s.send(t, http.MethodPost, "/v1/api/model/sli/eval", row))
	}
	first := scrape("/metrics")
	second := scrape("/v1/prometheus")
	snap := `function="` + opsSnapshotFunc + `"`
	if d := sample(t, second, "mlbridge_function_calls_total", snap) - sample(t, first, "mlbridge_function_calls_total", snap); d != 1 {
		t.Fatalf("one scrape made %v runtime snapshot calls, want 1", d)
	}
	if n := sample(t, first, "mlbridge_http_requests_total", `model="sli"`, `endpoint="eval"`, `code="200"`); n != 3 {
		t.Fatalf("eval 200s %v, want 3", n)
	}
	if n := sample(t, first, "mlbridge_http_request_duration_seconds_count", `model="sli"`); n != 3 {
		t.Fatalf("request latency count %v, want 3", n)
	}
	// The repeats were answered from this server's memo, without the runtime (memo.go).
	if n := sample(t, first, "mlbridge_memo_hits_total", `model="sli"`); n != 2 {
		t.Fatalf("memo hits %v, want 2", n)
	}
	for _, name := range []string{"mlbridge_memo_misses_total", "mlbridge_memo_stores_total",
		"mlbridge_memo_evictions_total", "mlbridge_memo_expired_total",
		"mlbridge_memo_invalidations_total", "mlbridge_memo_entries", "mlbridge_memo_bytes"} {
		sample(t, first, name, `model="sli"`)
	}
	// A spelling the memo has not seen reaches the runtime, which finds the row in its cache.
	data(t, s.send(t, http.MethodPost, "/v1/api/model/sli/eval", `{"sl":"ops-scrape","sa":"ops-scrape"}`))
	if n := sample(t, scrape("/metrics"), "mlbridge_cache_hits_total", `datastore="sli"`, `tier="local"`); n < 1 {
		t.Fatalf("local hits %v, want ≥ 1", n)
	}
	for _, name := range []string{
		"mlbridge_model_evaluations_total", "mlbridge_model_rows_evaluated_total",
		"mlbridge_model_singleflight_joins_total", "mlbridge_model_queue_requests",
		"mlbridge_model_rejected_total", "mlbridge_model_reloads_total",
		"mlbridge_model_reload_failures_total", "mlbridge_model_batches_total",
	} {
		sample(t, first, name, `model="sli"`)
	}
	sample(t, first, "mlbridge_cache_misses_total", `datastore="sli"`)
	// The model-call latency histogram, observed in the runtime (the row above was evaluated).
	if n := sample(t, first, "mlbridge_model_call_duration_seconds_count", `model="sli"`); n < 1 {
		t.Fatalf("model call latency count %v", n)
	}
	if n := sample(t, first, "mlbridge_model_call_rows_bucket", `model="sli"`, `le="1"`); n < 1 {
		t.Fatalf("one-row model calls %v", n)
	}
	if inf, n := sample(t, first, "mlbridge_model_call_duration_seconds_bucket", `model="sli"`, `le="+Inf"`),
		sample(t, first, "mlbridge_model_call_duration_seconds_count", `model="sli"`); inf != n {
		t.Fatalf("+Inf bucket %v != count %v", inf, n)
	}
	if h := sample(t, first, "mlbridge_model_health", `model="sli"`); h != 1 {
		t.Fatalf("health gauge %v", h)
	}
	var hash string
	for _, m := range testServer.Description().Models {
		if m.ID == "sli" {
			hash = strconv.FormatInt(m.DictHash, 10)
		}
	}
	if hash == "" || sample(t, first, "mlbridge_model_dictionary_info", `model="sli"`, `dict_hash="`+hash+`"`) != 1 {
		t.Fatalf("no dictionary info for sli with hash %s", hash)
	}
	sample(t, first, "go_goroutines")
}

func TestMlyOperationsJSON(t *testing.T) {
	s := startOps(t, OpsSettings{}, nil)
	data(t, s.send(t, http.MethodPost, "/v1/api/model/ko/eval", `{"i":5}`))
	r := s.send(t, http.MethodGet, "/v1/api/metric/operations", "")
	var ops []map[string]any
	if err := json.Unmarshal(r.body, &ops); r.status != http.StatusOK || err != nil {
		t.Fatalf("operations: %d %s", r.status, r.body)
	}
	names := map[string]bool{}
	for _, op := range ops {
		names[op["Name"].(string)] = true
	}
	for _, want := range []string{"koPerf", "sliReload", "sliEval", "sli"} {
		if !names[want] {
			t.Fatalf("no operation %s in %v", want, names)
		}
	}
	r = s.send(t, http.MethodGet, "/v1/api/metric/operation/koPerf", "")
	var perf struct {
		Name     string
		Count    int
		Unit     string
		Counters []struct {
			Value string
			Count int
		}
	}
	if err := json.Unmarshal(r.body, &perf); err != nil || perf.Name != "koPerf" || perf.Count != 1 || perf.Unit != "1µs" {
		t.Fatalf("koPerf: %s", r.body)
	}
	if perf.Counters[1].Value != "eval" || perf.Counters[1].Count != 1 {
		t.Fatalf("koPerf counters: %s", r.body)
	}
	if r := s.send(t, http.MethodGet, "/v1/api/metric/operation/nope", ""); r.status != http.StatusOK || string(r.body) != "null" {
		t.Fatalf("unknown operation: %d %s, want 200 null as mly", r.status, r.body)
	}
}

func TestTokenAndSubnetRefusalsNeverReachTheRuntime(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// 127.0.0.1 is outside 10.0.0.0/8: config is refused even with the token.
	s := startOps(t, OpsSettings{AllowedSubnet: []string{"10.0.0.0/8"}, AuthTokenFile: tokenFile, EnableCPUProf: true}, nil)
	const row = `{"sa":"ops-token","sl":"ops-token"}`
	before := functionCalls(t)
	for _, c := range []struct {
		method, path string
		headers      []string
		status       int
	}{
		{"POST", "/v1/api/model/sli/eval", nil, 401},
		{"POST", "/v1/api/model/sli/eval", []string{"Authorization: Bearer wrong"}, 401},
		{"POST", "/v1/api/model/sli/eval", []string{"Authorization: s3cret"}, 401},
		{"GET", "/v1/api/model/sli/eval?sa=a&sl=b", nil, 401},
		{"GET", "/v1/api/model/sli/meta/config", nil, 401},
		{"GET", "/metrics", nil, 401},
		{"GET", "/v1/api/metric/operations", nil, 401},
		{"GET", "/v1/api/config/", nil, 401},
		{"GET", "/v1/api/config/", []string{"Authorization: Bearer s3cret"}, 403},
		{"GET", "/v1/api/debug/pprof/", []string{"Authorization: Bearer s3cret"}, 403},
	} {
		r := s.send(t, c.method, c.path, row, c.headers...)
		msg := errorText(t, r, c.status)
		if c.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s %s: 401 without WWW-Authenticate (%s)", c.method, c.path, msg)
		}
	}
	after := functionCalls(t)
	for name, n := range after {
		if name != opsSnapshotFunc && n != before[name] {
			t.Fatalf("a refused request reached the runtime: %s calls %v → %v", name, before[name], n)
		}
	}
	// Health and readiness stay open to a load balancer; the token opens the rest.
	if r := s.send(t, "GET", "/v1/api/health", ""); r.status != 200 {
		t.Fatalf("health without a token: %d %s", r.status, r.body)
	}
	if r := s.send(t, "GET", "/v1/api/ready", ""); r.status != 200 {
		t.Fatalf("ready without a token: %d %s", r.status, r.body)
	}
	data(t, s.send(t, "POST", "/v1/api/model/sli/eval", row, "Authorization: Bearer s3cret"))
	if got := functionCalls(t)["sli.serve"]; got != after["sli.serve"]+1 {
		t.Fatalf("sli.serve calls %v after an accepted request, want %v", got, after["sli.serve"]+1)
	}

	// Inside the subnet the config is served.
	s2 := startOps(t, OpsSettings{AllowedSubnet: []string{"127.0.0.0/8", "::1/128"}}, nil)
	if r := s2.send(t, "GET", "/v1/api/config/", ""); r.status != 200 || !strings.Contains(string(r.body), `"models"`) {
		t.Fatalf("config from inside AllowedSubnet: %d %s", r.status, r.body)
	}
}

func TestAllowedSubnetIsCIDRNotAStringPrefix(t *testing.T) {
	a, err := newAccess(OpsSettings{AllowedSubnet: []string{"10.0.0.0/8", "2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]bool{
		"10.1.2.3:555":          true,
		"100.64.0.1:555":        false, // mly's "10." prefix admits it
		"101.0.0.1:80":          false,
		"[::ffff:10.9.9.9]:80":  true, // IPv4 on a dual-stack socket
		"[2001:db8::1]:443":     true,
		"[2001:db9::1]:443":     false,
		"not an address":        false,
		"127.0.0.1:8080":        false,
		"[::1]:8080":            false,
		"10.255.255.255:65535":  true,
		"11.0.0.0:1":            false,
		"[2001:db8:ffff::]:1":   true,
		"[fe80::1%eth0]:8080":   false,
		"10.0.0.1":              true, // no port
		"":                      false,
		"[2001:db8::1%25x]:443": false,
	} {
		if got := a.subnetOK(remote); got != want {
			t.Errorf("subnetOK(%q) = %v, want %v", remote, got, want)
		}
	}
	if _, err := newAccess(OpsSettings{AllowedSubnet: []string{"10."}}); err == nil {
		t.Fatal("a string prefix reached the server unconverted and was accepted")
	}
	if _, err := newAccess(OpsSettings{AuthTokenFile: "/nonexistent/token"}); err == nil {
		t.Fatal("an unreadable AuthTokenFile was accepted")
	}
}

func TestTokenFromTheEnvironment(t *testing.T) {
	t.Setenv(TokenEnv, "from-env")
	s := startOps(t, OpsSettings{}, nil)
	errorText(t, s.send(t, "GET", "/v1/api/model/sli/meta/config", ""), http.StatusUnauthorized)
	if r := s.send(t, "GET", "/v1/api/model/sli/meta/config", "", "Authorization: Bearer from-env"); r.status != 200 {
		t.Fatalf("with the token: %d %s", r.status, r.body)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns their paths and a pool
// that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mlbridge test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSWhenCertAndKeyAreSet(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := startOps(t, OpsSettings{TLSCertFile: certFile, TLSKeyFile: keyFile}, nil)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("url %s", s.url)
	}
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		s.client = &http.Client{Timeout: 30 * time.Second, Transport: tr}
		r := s.send(t, http.MethodPost, "/v1/api/model/ko/eval", `{"i":6}`)
		data(t, r)
		if want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]; r.proto != want {
			t.Fatalf("proto %s, want %s", r.proto, want)
		}
		tr.CloseIdleConnections()
	}
	// Cleartext to the TLS port is not served.
	resp, err := h1.Get(strings.Replace(s.url, "https://", "http://", 1) + "/v1/api/health")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("cleartext request answered 200 on the TLS port")
		}
	}
	// A certificate that cannot be loaded is refused at start, not at the first request.
	srv := New(testServer.Description())
	defer srv.Shutdown(context.Background())
	if _, err := NewOpsWith(srv, OpsSettings{TLSCertFile: keyFile, TLSKeyFile: certFile}); err == nil {
		t.Fatal("swapped certificate and key were accepted")
	}
}

func TestProfilesFollowTheirSettingsAndTheSubnet(t *testing.T) {
	s := startOps(t, OpsSettings{EnableMemProf: true, AllowedSubnet: []string{"127.0.0.1/32"}}, nil)
	r := s.send(t, http.MethodGet, "/v1/api/debug/pprof/heap?debug=1", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "heap profile") {
		t.Fatalf("heap: %d %.200s", r.status, r.body)
	}
	if r := s.send(t, http.MethodGet, "/v1/api/debug/pprof/", ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "heap?debug=1") {
		t.Fatalf("index: %d %.200s", r.status, r.body)
	}
	if r := s.send(t, http.MethodGet, "/v1/api/debug/memprof", ""); r.status != http.StatusOK || len(r.body) == 0 {
		t.Fatalf("mly's memprof: %d", r.status)
	}
	// CPU profiles need EnableCPUProf.
	errorText(t, s.send(t, http.MethodGet, "/v1/api/debug/pprof/profile?seconds=1", ""), http.StatusNotFound)
	// Without either setting nothing is mounted.
	off := startOps(t, OpsSettings{}, nil)
	errorText(t, off.send(t, http.MethodGet, "/v1/api/debug/pprof/heap", ""), http.StatusNotFound)
}

func TestStartAnswers503UntilTheLoadedServerTakesOver(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	config := "Endpoint: {Port: 0, Host: 127.0.0.1, WriteTimeoutMs: 1500, AuthTokenFile: /run/t}\n" +
		"AllowedSubnet: ['10.']\nModels: [{ID: x, URL: /nonexistent}]\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	pre, err := ReadPreview(path) // parsed only: the model directory is never read
	if err != nil {
		t.Fatal(err)
	}
	if pre.Endpoint.WriteTimeoutMs != 1500 || pre.Endpoint.BufferSize != 131072 || pre.Endpoint.Host != "127.0.0.1" ||
		pre.Ops.AuthTokenFile != "/run/t" || len(pre.Ops.AllowedSubnet) != 1 || pre.Ops.AllowedSubnet[0] != "10.0.0.0/8" {
		t.Fatalf("preview %+v", pre)
	}

	st, err := Start(testServer.Description().Endpoint, OpsSettings{})
	if err != nil {
		t.Fatal(err)
	}
	s := &opsServer{url: st.Scheme() + "://" + st.Addr().String(), client: h1}
	for _, path := range []string{"/v1/api/ready", "/v1/api/health", "/v1/api/model/sli/eval?sa=a&sl=a"} {
		errorText(t, s.send(t, http.MethodGet, path, ""), http.StatusServiceUnavailable)
	}
	srv := New(testServer.Description())
	o, err := NewOpsWith(srv, OpsSettings{})
	if err != nil {
		t.Fatal(err)
	}
	st.Handover(o)
	if r := s.send(t, http.MethodGet, "/v1/api/ready", ""); r.status != http.StatusOK {
		t.Fatalf("ready after the handover: %d %s", r.status, r.body)
	}
	data(t, s.send(t, http.MethodGet, "/v1/api/model/sli/eval?sa=a&sl=a", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-st.Done(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := h1.Get(s.url + "/v1/api/ready"); err == nil {
		t.Fatal("the drained server still accepts connections")
	}
}

func TestMetricNamesPassPromlint(t *testing.T) {
	s := startOps(t, OpsSettings{}, nil)
	data(t, s.send(t, http.MethodPost, "/v1/api/model/sli/eval", `{"sa":"lint","sl":"lint"}`))
	problems, err := testutil.GatherAndLint(s.ops.metrics.registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "mlbridge_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
