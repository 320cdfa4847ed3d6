package metacall

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Hot reload lives in the runtime, so a Go program calling <ID>.eval through Call gets new
// model versions without any reload code of its own. These tests replace a model directory
// under goroutines that keep calling, with a short poll interval.

const reloadIntervalMs = 300

// reloadHelpers reads the runtime's reload status from Go (the HTTP server reads it the same way).
const reloadHelpers = `
import bridge.mly

def ops_reload_status(model_id):
    status = bridge.mly.MLY.snapshot()["reload"][model_id]
    return {k: v for k, v in status.items() if isinstance(v, (int, float, str))}

def ops_reload_health():
    return bridge.mly.MLY.health()
`

var reloadHelpersOnce sync.Once

// servedCopy copies one of mly's fixture models into a temp dir and serves it as modelID.
func servedCopy(t *testing.T, modelID, fixture string) (url, models string) {
	t.Helper()
	models = os.Getenv("MLBRIDGE_MLY_MODELS")
	if models == "" {
		t.Skip("MLBRIDGE_MLY_MODELS is not set (the viant/mly fixture models directory)")
	}
	var err error
	reloadHelpersOnce.Do(func() { err = LoadFromMemory("py", reloadHelpers) })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	url = filepath.Join(dir, "model")
	copyTree(t, filepath.Join(models, fixture), url)
	config := filepath.Join(dir, "reload.yaml")
	text := fmt.Sprintf("Models:\n  - ID: %s\n    URL: %s\n    ReloadIntervalMs: %d\n",
		modelID, url, reloadIntervalMs)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := LoadFromFile("mly", []string{config}); err != nil {
		t.Fatal(err)
	}
	return url, models
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// swapIn replaces url by a copy of from, staged beside it and renamed in (a deploy script's way).
func swapIn(t *testing.T, from, url string) time.Time {
	t.Helper()
	staged, old := url+".staged", url+".old"
	copyTree(t, from, staged)
	if err := os.Rename(url, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staged, url); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if err := os.RemoveAll(old); err != nil {
		t.Fatal(err)
	}
	return at
}

type answer struct {
	started time.Time
	expand  interface{}
}

// callers runs n goroutines calling function(row) until stop is closed.
type callers struct {
	mu       sync.Mutex
	answers  []answer
	failures []error
	stop     chan struct{}
	stopped  sync.Once
	wg       sync.WaitGroup
}

func startCallers(n int, function string, row map[string]interface{}) *callers {
	c := &callers{stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				started := time.Now()
				got, err := Call(function, row)
				c.mu.Lock()
				if err != nil {
					c.failures = append(c.failures, err)
				} else {
					c.answers = append(c.answers, answer{started, got.(map[string]interface{})["expand"]})
				}
				c.mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	return c
}

func (c *callers) halt() {
	c.stopped.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// firstFloat is the start of the first call after since that got a float64 (the new version).
func (c *callers) firstFloat(t *testing.T, since time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, a := range c.answers {
			if _, ok := a.expand.(float64); ok && !a.started.Before(since) {
				c.mu.Unlock()
				return a.started
			}
		}
		c.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no answer from the new version within 30s")
	return time.Time{}
}

func status(t *testing.T, modelID string) map[string]interface{} {
	t.Helper()
	return mustCall(t, "ops_reload_status", modelID).(map[string]interface{})
}

func TestHotReloadReachesGoCallersWithoutAFailedCall(t *testing.T) {
	url, models := servedCopy(t, "goreload", "string_lookups_int_model")
	row := map[string]interface{}{"sa": "a", "sl": "a"}
	if got := mustCall(t, "goreload.eval", row); got.(map[string]interface{})["expand"] != int64(25) {
		t.Fatalf("first version answered %v, want expand 25 (int)", got)
	}
	c := startCallers(8, "goreload.eval", row)
	defer c.halt()

	// The int model is replaced by the float one: same inputs, answers become float64.
	swapped := swapIn(t, filepath.Join(models, "string_lookups_float_model"), url)
	switched := c.firstFloat(t, swapped)
	s := status(t, "goreload")
	allowed := 2*reloadIntervalMs*time.Millisecond +
		time.Duration(s["last_load_seconds"].(float64)*float64(time.Second)) +
		250*time.Millisecond // the poller shares the GIL with 8 callers on a shared machine
	if took := switched.Sub(swapped); took > allowed {
		t.Errorf("answers switched %v after the rename, want within %v (two polls and the load)", took, allowed)
	}

	// A broken version: the float model keeps answering, health says 0, the poller retries.
	broken := filepath.Join(t.TempDir(), "broken")
	copyTree(t, filepath.Join(models, "string_lookups_float_model"), broken)
	if err := os.WriteFile(filepath.Join(broken, "saved_model.pb"), []byte("not a graph"), 0o644); err != nil {
		t.Fatal(err)
	}
	swapIn(t, broken, url)
	deadline := time.Now().Add(30 * time.Second)
	for status(t, "goreload")["failures"].(int64) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if s := status(t, "goreload"); s["failures"].(int64) < 2 || s["ok"].(int64) != 0 {
		t.Fatalf("after a broken version: status %v, want ok 0 and failures >= 2 (retried)", s)
	}
	if h := mustCall(t, "ops_reload_health").(map[string]interface{}); h["goreload"] != int64(0) {
		t.Errorf("health %v, want goreload 0", h)
	}
	checked := time.Now()
	time.Sleep(50 * time.Millisecond)
	c.halt()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) != 0 {
		t.Fatalf("%d failed calls, first: %v", len(c.failures), c.failures[0])
	}
	late, served := 0, 0
	for _, a := range c.answers {
		if a.started.After(switched) {
			if _, ok := a.expand.(float64); !ok {
				late++
			}
		}
		if a.started.After(checked) {
			served++
		}
	}
	if late != 0 {
		t.Errorf("%d calls started after the switch got the old version", late)
	}
	if served == 0 {
		t.Errorf("no call was answered while the broken version was in place")
	}
}
