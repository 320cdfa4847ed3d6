package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// mly's metrics JSON (viant/gmetric, mounted at /v1/api/metric/), for people who already read
// it: each "operation" has a count, times in µs (TimeTaken, Min, Max, Avg), named counters and
// Recent one-minute windows. The server records {model}Perf for eval requests; {model}Reload,
// {model}Eval and one operation per datastore come from the runtime snapshot of the request.

// operation is gmetric's Operation as mly serves it.
type operation struct {
	Location    string    `json:"Location"`
	Name        string    `json:"Name"`
	Description string    `json:"Description"`
	Count       int64     `json:"Count,omitempty"`
	Custom      any       `json:"Custom"`
	Counters    []counter `json:"Counters"`
	TimeTaken   int64     `json:"TimeTaken"`
	Max         int64     `json:"Max"`
	Min         int64     `json:"Min"`
	Avg         int64     `json:"Avg"`
	Recent      []*window `json:"Recent"`
	Unit        string    `json:"Unit"`
	RecentUnit  string    `json:"RecentUnit"`
	names       []string  // counter names in order
	counts      map[string]int64
}

type counter struct {
	Value  string `json:"Value"`
	Count  int64  `json:"Count,omitempty"`
	Custom any    `json:"Custom"`
	Pct    int64  `json:"Pct,omitempty"`
}

// window is one minute of an operation.
type window struct {
	start     time.Time
	Count     int64     `json:"Count,omitempty"`
	Counters  []counter `json:"Counters"`
	TimeTaken int64     `json:"TimeTaken"`
	Max       int64     `json:"Max"`
	Min       int64     `json:"Min"`
	Avg       int64     `json:"Avg"`
	counts    map[string]int64
}

// perfCounters are mly's {model}Perf counter names, in mly's order.
var perfCounters = []string{"error", "eval", "pending", "timeout", "invalid", "canceled", "deadlineExceeded", "overloaded"}

// operations holds the operations the server records itself, each under its own lock (the
// eval hot path records one event per request).
type operations struct {
	mu  sync.Mutex
	ops map[string]*recorded
}

// recorded is an operation being recorded.
type recorded struct {
	mu sync.Mutex
	op *operation
}

func newOperations() *operations { return &operations{ops: map[string]*recorded{}} }

func newOperation(name, description string, counterNames []string) *operation {
	return &operation{
		Location: "mlbridge/go_host/server", Name: name, Description: description,
		Unit: "1µs", RecentUnit: "1m0s", names: counterNames, counts: map[string]int64{},
		Counters: []counter{}, Recent: []*window{},
	}
}

// perf is the {model}Perf operation of a model (created on first use), to record its eval
// requests.
func (o *operations) perf(model string) *recorded {
	name := model + "Perf"
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.ops[name]
	if r == nil {
		r = &recorded{op: newOperation(name, model+" service performance", perfCounters)}
		o.ops[name] = r
	}
	return r
}

// record counts one event that took took and ended at now.
func (r *recorded) record(now time.Time, took time.Duration, counterName string) {
	us := took.Microseconds()
	minute := now.Truncate(time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.op
	op.Count++
	op.TimeTaken += us
	op.Max = max(op.Max, us)
	if op.Min == 0 || us < op.Min {
		op.Min = us
	}
	op.counts[counterName]++
	if len(op.Recent) == 0 || op.Recent[0].start.Before(minute) {
		op.Recent = append([]*window{{start: minute, counts: map[string]int64{}}}, op.Recent...)
		if len(op.Recent) > 2 {
			op.Recent = op.Recent[:2]
		}
	}
	w := op.Recent[0]
	w.Count++
	w.TimeTaken += us
	w.Max = max(w.Max, us)
	if w.Min == 0 || us < w.Min {
		w.Min = us
	}
	w.counts[counterName]++
}

// snapshot copies the recorded operations with their derived fields filled in.
func (o *operations) snapshot() []operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]operation, 0, len(o.ops))
	for _, name := range sortedKeys(o.ops) {
		r := o.ops[name]
		r.mu.Lock()
		op := *r.op
		op.Avg = avg(op.TimeTaken, op.Count)
		op.Counters = counters(op.names, op.counts, op.Count)
		recent := make([]*window, len(op.Recent))
		for i, w := range op.Recent {
			c := *w
			c.Avg = avg(c.TimeTaken, c.Count)
			c.Counters = counters(op.names, c.counts, c.Count)
			recent[i] = &c
		}
		r.mu.Unlock()
		op.Recent = recent
		out = append(out, op)
	}
	return out
}

func avg(total, n int64) int64 {
	if n == 0 {
		return 0
	}
	return total / n
}

func counters(names []string, counts map[string]int64, total int64) []counter {
	out := make([]counter, len(names))
	for i, name := range names {
		out[i] = counter{Value: name, Count: counts[name]}
		if total > 0 {
			out[i].Pct = counts[name] * 100 / total
		}
	}
	return out
}

// runtimeOperations are the operations built from one runtime snapshot.
func runtimeOperations(s *runtimeSnapshot) []operation {
	var out []operation
	mly := s.Loaders.Mly
	for _, id := range sortedKeys(mly.Reload) {
		r := mly.Reload[id]
		op := newOperation(id+"Reload", id+" model reload", []string{"error", "canceled", "deadlineExceeded"})
		op.counts["error"] = int64(r.Failures)
		op.Count = int64(r.Reloads + r.Failures)
		op.Counters = counters(op.names, op.counts, op.Count)
		out = append(out, *op)
	}
	for _, id := range sortedKeys(mly.Models) {
		m := mly.Models[id]
		op := newOperation(id+"Eval", id+" model evaluations", []string{"error", "rows"})
		op.counts["rows"] = int64(m["rows_evaluated"])
		op.Count = int64(m["evaluations"])
		op.Counters = counters(op.names, op.counts, 0)
		out = append(out, *op)
	}
	for _, id := range sortedKeys(mly.Datastores) {
		d := mly.Datastores[id]
		op := newOperation(id, id+" datastore reads", []string{
			"error", "noKey", "cacheHit", "down", "localHasValue", "L1HasValue", "hasValue",
		})
		for _, t := range d.Tiers {
			op.counts["error"] += int64(t["errors"])
			op.counts["down"] += int64(t["down"])
		}
		op.counts["noKey"] = int64(d.Misses)
		op.counts["localHasValue"] = int64(d.LocalHits)
		op.counts["L1HasValue"] = int64(d.L1Hits)
		op.counts["hasValue"] = int64(d.L1Hits + d.L2Hits)
		op.counts["cacheHit"] = int64(d.LocalHits + d.L1Hits + d.L2Hits)
		op.Count = op.counts["cacheHit"] + op.counts["noKey"]
		op.Counters = counters(op.names, op.counts, op.Count)
		out = append(out, *op)
	}
	return out
}

func (o *operations) all() ([]operation, error) {
	ops := o.snapshot()
	s, err := fetchSnapshot()
	if err != nil {
		return nil, err
	}
	return append(ops, runtimeOperations(s)...), nil
}

func (o *operations) serveAll(w http.ResponseWriter, _ *http.Request) {
	ops, err := o.all()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeMarshalled(w, ops)
}

// serveOne answers one operation, or null (200) when there is none of that name, as mly.
func (o *operations) serveOne(w http.ResponseWriter, r *http.Request) {
	ops, err := o.all()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	name := r.PathValue("name")
	for i := range ops {
		if ops[i].Name == name {
			writeMarshalled(w, &ops[i])
			return
		}
	}
	writeMarshalled(w, nil)
}

func writeMarshalled(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}
