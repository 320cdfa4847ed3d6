package server

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics counts requests on the Go side (status, latency, per model) and exports the
// runtime's counters (Python side: functions, cache tiers, models, reloads) through one
// collector that reads one runtime snapshot per scrape, not one call per metric.
type metrics struct {
	srv      *Server
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ops      *operations
	evals    map[string]*evalMetrics // per served model: the eval hot path's series, looked up once
}

// evalMetrics are a model's eval series, resolved from their labels once.
type evalMetrics struct {
	ok      prometheus.Counter  // mlbridge_http_requests_total{model, "eval", "200"}
	latency prometheus.Observer // mlbridge_http_request_duration_seconds{model}
	perf    atomic.Pointer[recorded]
}

func newMetrics(srv *Server) *metrics {
	m := &metrics{
		srv:      srv,
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlbridge_http_requests_total",
			Help: "HTTP requests by model (empty for other paths), endpoint and status code.",
		}, []string{"model", "endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mlbridge_http_request_duration_seconds",
			Help:    "Eval request latency, from the handler's start to the response written.",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2, 16), // 100 µs … 3.3 s
		}, []string{"model"}),
		ops:   newOperations(),
		evals: make(map[string]*evalMetrics, len(srv.models)),
	}
	for id := range srv.models {
		m.evals[id] = &evalMetrics{
			ok:      m.requests.WithLabelValues(id, "eval", "200"),
			latency: m.latency.WithLabelValues(id),
		}
	}
	m.registry.MustRegister(
		m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&serverCollector{srv: srv},
		&runtimeCollector{},
	)
	return m
}

func (m *metrics) mount(handle func(string, http.Handler)) {
	h := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	handle("/metrics", h)
	handle("/v1/prometheus", h)
	handle("/v1/api/metric/operations", http.HandlerFunc(m.ops.serveAll))
	handle("/v1/api/metric/operation/{name}", http.HandlerFunc(m.ops.serveOne))
}

// statusWriter remembers the status a handler wrote, and when the request started.
type statusWriter struct {
	http.ResponseWriter
	status int
	start  time.Time
}

// requestStart is when the request started: as the metrics saw it (one clock read for both),
// or now.
func requestStart(w http.ResponseWriter) time.Time {
	if sw, ok := w.(*statusWriter); ok {
		return sw.start
	}
	return time.Now()
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusWriters are reused: a handler keeps no ResponseWriter past its return.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func (m *metrics) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statusWriters.Get().(*statusWriter)
		sw.ResponseWriter, sw.status, sw.start = w, 0, start
		defer func() { sw.ResponseWriter = nil; statusWriters.Put(sw) }()
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		model, endpoint := m.route(r.URL.Path)
		if endpoint != "eval" || model == "" {
			m.requests.WithLabelValues(model, endpoint, strconv.Itoa(sw.status)).Inc()
			return
		}
		took := time.Since(start)
		em := m.evals[model]
		if em == nil { // a model mounted after the metrics (tests)
			em = &evalMetrics{ok: m.requests.WithLabelValues(model, endpoint, "200"), latency: m.latency.WithLabelValues(model)}
		}
		if sw.status == http.StatusOK {
			em.ok.Inc()
		} else {
			m.requests.WithLabelValues(model, endpoint, strconv.Itoa(sw.status)).Inc()
		}
		em.latency.Observe(took.Seconds())
		perf := em.perf.Load()
		if perf == nil {
			perf = m.ops.perf(model)
			em.perf.Store(perf)
		}
		perf.record(start.Add(took), took, perfCounter(sw.status))
	})
}

// route names a path for the labels; only served model IDs become label values (an unknown
// ID in a URL must not create a series).
func (m *metrics) route(path string) (model, endpoint string) {
	if rest, ok := strings.CutPrefix(path, evalPrefix); ok {
		id, tail, _ := strings.Cut(rest, "/")
		if _, served := m.srv.models[id]; served {
			model = id
		}
		switch {
		case tail == "eval":
			return model, "eval"
		case strings.HasPrefix(tail, "meta/"):
			return model, "meta"
		}
		return model, "other"
	}
	switch {
	case path == "/v1/api/health":
		return "", "health"
	case path == "/v1/api/ready":
		return "", "ready"
	case path == "/metrics" || path == "/v1/prometheus":
		return "", "prometheus"
	case strings.HasPrefix(path, "/v1/api/metric/"):
		return "", "metric"
	case strings.HasPrefix(path, "/v1/api/config"):
		return "", "config"
	case strings.HasPrefix(path, "/v1/api/debug/"):
		return "", "debug"
	case path == "/v1/api/openapi.json":
		return "", "openapi"
	}
	return "", "other"
}

// perfCounter is the mly {model}Perf counter a status counts under.
func perfCounter(status int) string {
	switch {
	case status < 300:
		return "eval"
	case status == http.StatusTooManyRequests:
		return "overloaded"
	case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return "deadlineExceeded"
	case status < 500:
		return "invalid"
	}
	return "error"
}

// serverCollector exports the Go side of each model: its queue and its Batcher's counters.
type serverCollector struct{ srv *Server }

var (
	queueDesc = prometheus.NewDesc("mlbridge_model_queue_requests",
		"Requests of the model waiting for a model call now.", []string{"model"}, nil)
	runningDesc = prometheus.NewDesc("mlbridge_model_running_calls",
		"Model calls in flight now.", []string{"model"}, nil)
	batchesDesc = prometheus.NewDesc("mlbridge_model_batches_total",
		"Model calls the server made (each carries one or more requests).", []string{"model"}, nil)
	batchedDesc = prometheus.NewDesc("mlbridge_model_batched_requests_total",
		"Requests carried by those calls (divide by batches for requests per model call).", []string{"model"}, nil)
	rejectedDesc = prometheus.NewDesc("mlbridge_model_rejected_total",
		"Requests refused with 429 because the model's queue was full.", []string{"model"}, nil)
	expiredDesc = prometheus.NewDesc("mlbridge_model_expired_total",
		"Requests whose deadline passed while queued: dropped, never evaluated.", []string{"model"}, nil)
	memoHitsDesc = prometheus.NewDesc("mlbridge_memo_hits_total",
		"Requests answered from the server's memo of exact requests, without the runtime.", []string{"model"}, nil)
	memoMissesDesc = prometheus.NewDesc("mlbridge_memo_misses_total",
		"Requests the memo did not hold (they went to the runtime).", []string{"model"}, nil)
	memoStoresDesc = prometheus.NewDesc("mlbridge_memo_stores_total",
		"Answers stored in the memo.", []string{"model"}, nil)
	memoEvictionsDesc = prometheus.NewDesc("mlbridge_memo_evictions_total",
		"Memo entries dropped for room (least recently used first).", []string{"model"}, nil)
	memoExpiredDesc = prometheus.NewDesc("mlbridge_memo_expired_total",
		"Memo entries found past the datastore's TimeToLiveMs (dropped, answered by the runtime).", []string{"model"}, nil)
	memoInvalidationsDesc = prometheus.NewDesc("mlbridge_memo_invalidations_total",
		"Times the whole memo was dropped because a model was reloaded.", []string{"model"}, nil)
	memoEntriesDesc = prometheus.NewDesc("mlbridge_memo_entries",
		"Entries in the memo now.", []string{"model"}, nil)
	memoBytesDesc = prometheus.NewDesc("mlbridge_memo_bytes",
		"Bytes the memo holds now (keys, answers and a fixed overhead per entry).", []string{"model"}, nil)
)

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- runningDesc
	ch <- batchesDesc
	ch <- batchedDesc
	ch <- rejectedDesc
	ch <- expiredDesc
	for _, d := range []*prometheus.Desc{memoHitsDesc, memoMissesDesc, memoStoresDesc, memoEvictionsDesc,
		memoExpiredDesc, memoInvalidationsDesc, memoEntriesDesc, memoBytesDesc} {
		ch <- d
	}
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	for id, m := range c.srv.models {
		st := m.batcher.Stats()
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Queued), id)
		ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(st.Running), id)
		ch <- prometheus.MustNewConstMetric(batchesDesc, prometheus.CounterValue, float64(st.Batches), id)
		ch <- prometheus.MustNewConstMetric(batchedDesc, prometheus.CounterValue, float64(st.Items), id)
		ch <- prometheus.MustNewConstMetric(rejectedDesc, prometheus.CounterValue, float64(st.Overloaded), id)
		ch <- prometheus.MustNewConstMetric(expiredDesc, prometheus.CounterValue, float64(st.Cancelled), id)
		if m.memo == nil {
			continue
		}
		ms := m.memo.stats()
		for _, c := range []struct {
			desc  *prometheus.Desc
			value uint64
		}{{memoHitsDesc, ms.Hits}, {memoMissesDesc, ms.Misses}, {memoStoresDesc, ms.Stores},
			{memoEvictionsDesc, ms.Evictions}, {memoExpiredDesc, ms.Expired}, {memoInvalidationsDesc, ms.Invalidations}} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.value), id)
		}
		ch <- prometheus.MustNewConstMetric(memoEntriesDesc, prometheus.GaugeValue, float64(ms.Entries), id)
		ch <- prometheus.MustNewConstMetric(memoBytesDesc, prometheus.GaugeValue, float64(ms.Bytes), id)
	}
}

// runtimeSnapshot is bridge.mly.ops's snapshot (bridge.metrics.snapshot plus health).
type runtimeSnapshot struct {
	Functions map[string]struct {
		Calls  float64 `json:"calls"`
		Errors float64 `json:"errors"`
	} `json:"functions"`
	Loaders struct {
		Mly struct {
			Datastores map[string]datastoreSnapshot  `json:"datastores"`
			Models     map[string]map[string]float64 `json:"models"`
			Reload     map[string]reloadSnapshot     `json:"reload"`
			// CallSeconds is each model's model-call latency (bridge/mly/latency.py).
			CallSeconds map[string]histogramSnapshot `json:"call_seconds"`
			// CallRows is each model's rows per model call.
			CallRows map[string]histogramSnapshot `json:"call_rows"`
		} `json:"mly"`
	} `json:"loaders"`
	Health map[string]float64 `json:"health"`
}

type datastoreSnapshot struct {
	LocalHits      float64                       `json:"local_hits"`
	L1Hits         float64                       `json:"l1_hits"`
	L2Hits         float64                       `json:"l2_hits"`
	Misses         float64                       `json:"misses"`
	HashMismatches float64                       `json:"hash_mismatches"`
	Writes         float64                       `json:"writes"`
	DroppedWrites  float64                       `json:"dropped_writes"`
	Tiers          map[string]map[string]float64 `json:"tiers"`
}

type reloadSnapshot struct {
	OK              float64 `json:"ok"`
	Reloads         float64 `json:"reloads"`
	Failures        float64 `json:"failures"`
	Unchanged       float64 `json:"unchanged"`
	Polls           float64 `json:"polls"`
	DictHash        int64   `json:"dict_hash"`
	LastLoadSeconds float64 `json:"last_load_seconds"`
	LastError       string  `json:"last_error"`
}

// histogramSnapshot is a runtime histogram: cumulative counts per upper bound.
type histogramSnapshot struct {
	Buckets    []float64 `json:"buckets"`
	Cumulative []uint64  `json:"cumulative"`
	Count      uint64    `json:"count"`
	Sum        float64   `json:"sum"`
}

// fetchSnapshot makes the one runtime call of a scrape.
func fetchSnapshot() (*runtimeSnapshot, error) {
	var s runtimeSnapshot
	if err := callJSON(opsSnapshotFunc, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// runtimeCollector exports one runtime snapshot per scrape. It is unchecked (its series
// depend on what is loaded), so Describe sends nothing.
type runtimeCollector struct{}

func (c *runtimeCollector) Describe(chan<- *prometheus.Desc) {}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("mlbridge_"+name, help, labels, nil)
}

var (
	fnCallsDesc   = desc("function_calls_total", "Runtime function calls from every host (Go, C, Python, HTTP).", "function")
	fnErrorsDesc  = desc("function_errors_total", "Runtime function calls that raised.", "function")
	rowsDesc      = desc("model_rows_total", "Rows asked of the model (cached or not).", "model")
	evalsDesc     = desc("model_evaluations_total", "Model calls (one per batch of cache misses).", "model")
	rowsEvalDesc  = desc("model_rows_evaluated_total", "Rows the model evaluated (divide by evaluations for rows per model call).", "model")
	joinsDesc     = desc("model_singleflight_joins_total", "Rows answered by another caller's evaluation in flight.", "model")
	hitsDesc      = desc("cache_hits_total", "Cache hits by datastore and tier (local, l1, l2).", "datastore", "tier")
	missesDesc    = desc("cache_misses_total", "Keys found in no tier.", "datastore")
	mismatchDesc  = desc("cache_hash_mismatches_total", "Entries found under another dictionary hash (counted as misses).", "datastore")
	writesDesc    = desc("cache_writes_total", "Entries written after an evaluation.", "datastore")
	droppedDesc   = desc("cache_dropped_writes_total", "Background writes dropped because the queue was full.", "datastore")
	tierErrDesc   = desc("cache_tier_errors_total", "Failed operations of a tier.", "datastore", "tier")
	tierDownDesc  = desc("cache_tier_down_total", "Operations skipped because the tier's breaker was open.", "datastore", "tier")
	breakerDesc   = desc("cache_breaker_open", "1 while the tier's circuit breaker is open.", "datastore", "tier")
	reloadsDesc   = desc("model_reloads_total", "New model versions swapped in.", "model")
	reloadErrDesc = desc("model_reload_failures_total", "Versions that failed to load or to warm.", "model")
	healthDesc    = desc("model_health", "mly's health: 1, or 0 after a failed reload until one succeeds.", "model")
	dictDesc      = desc("model_dictionary_info", "The dictionary hash the model serves (label).", "model", "dict_hash")
	callDesc      = desc("model_call_duration_seconds", "Model call latency (one call per batch of cache misses), measured in the runtime.", "model")
	callRowsDesc  = desc("model_call_rows", "Rows per model call (how full the batching makes each call).", "model")
	scrapeErrDesc = desc("runtime_snapshot", "The runtime snapshot of this scrape.")
)

func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := fetchSnapshot()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(scrapeErrDesc, err)
		return
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for name, f := range s.Functions {
		counter(fnCallsDesc, f.Calls, name)
		counter(fnErrorsDesc, f.Errors, name)
	}
	mly := s.Loaders.Mly
	for id, m := range mly.Models {
		counter(rowsDesc, m["rows"], id)
		counter(evalsDesc, m["evaluations"], id)
		counter(rowsEvalDesc, m["rows_evaluated"], id)
		counter(joinsDesc, m["deduped"], id)
	}
	for _, hs := range []struct {
		desc *prometheus.Desc
		of   map[string]histogramSnapshot
	}{{callDesc, mly.CallSeconds}, {callRowsDesc, mly.CallRows}} {
		for id, h := range hs.of {
			if len(h.Buckets) != len(h.Cumulative) {
				continue
			}
			buckets := make(map[float64]uint64, len(h.Buckets))
			for i, bound := range h.Buckets {
				buckets[bound] = h.Cumulative[i]
			}
			ch <- prometheus.MustNewConstHistogram(hs.desc, h.Count, h.Sum, buckets, id)
		}
	}
	for id, d := range mly.Datastores {
		counter(hitsDesc, d.LocalHits, id, "local")
		counter(hitsDesc, d.L1Hits, id, "l1")
		counter(hitsDesc, d.L2Hits, id, "l2")
		counter(missesDesc, d.Misses, id)
		counter(mismatchDesc, d.HashMismatches, id)
		counter(writesDesc, d.Writes, id)
		counter(droppedDesc, d.DroppedWrites, id)
		for tier, t := range d.Tiers {
			counter(tierErrDesc, t["errors"], id, tier)
			counter(tierDownDesc, t["down"], id, tier)
			if open, ok := t["breaker_open"]; ok {
				gauge(breakerDesc, open, id, tier)
			}
		}
	}
	for id, r := range mly.Reload {
		counter(reloadsDesc, r.Reloads, id)
		counter(reloadErrDesc, r.Failures, id)
		gauge(healthDesc, r.OK, id)
		gauge(dictDesc, 1, id, strconv.FormatInt(r.DictHash, 10))
	}
}

// sortedKeys is a map's keys in order (stable JSON for mly's operations).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
