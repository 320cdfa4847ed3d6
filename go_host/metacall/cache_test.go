package metacall

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// The prediction cache lives in the Python runtime, so a Go caller gets hits without any cache
// code of its own: these tests and benchmarks call the wine quality model served through
// examples/wine_quality.yaml (a memory datastore) and the same model with no datastore.

var (
	qualityOnce sync.Once
	qualityErr  error
)

var wineRow = map[string]interface{}{
	"country": "Italy", "province": "Sicily & Sardinia", "variety": "White Blend",
	"winery": "Nicosia", "price": 15.0,
}

// loadQuality loads both configurations once per test binary, or skips naming what is missing.
func loadQuality(tb testing.TB) {
	tb.Helper()
	model, _ := filepath.Abs("../../build/models/wine-quality")
	if _, err := os.Stat(filepath.Join(model, "saved_model.pb")); err != nil {
		tb.Skipf("no wine quality model at %s (make quality-model)", model)
	}
	qualityOnce.Do(func() {
		cached, _ := filepath.Abs("../../examples/wine_quality.yaml")
		uncached := filepath.Join(os.TempDir(), fmt.Sprintf("wine_uncached_%d.yaml", os.Getpid()))
		text := fmt.Sprintf("Models:\n  - ID: wine_uncached\n    URL: %s\n", model)
		if qualityErr = os.WriteFile(uncached, []byte(text), 0o600); qualityErr != nil {
			return
		}
		defer os.Remove(uncached)
		qualityErr = LoadFromFile("mly", []string{cached, uncached})
	})
	if qualityErr != nil {
		tb.Fatal(qualityErr)
	}
}

func TestCachedModelAnswersFromGoLikeTheUncachedOne(t *testing.T) {
	loadQuality(t)
	want := mustCall(t, "wine_uncached.eval", wineRow)
	first := mustCall(t, "wine_quality.eval", wineRow)
	again := mustCall(t, "wine_quality.eval", wineRow)
	points, ok := want.(map[string]interface{})["points"].(float64)
	if !ok || points < 70 || points > 100 {
		t.Fatalf("uncached answer %v: want points in 70..100", want)
	}
	for _, got := range []interface{}{first, again} {
		if p, _ := got.(map[string]interface{})["points"].(float64); p != points {
			t.Fatalf("cached answer %v, uncached %v", got, want)
		}
	}
	// A key field the model has never seen maps to [UNK], so two unknown wineries share a key.
	a := map[string]interface{}{}
	b := map[string]interface{}{}
	for k, v := range wineRow {
		a[k], b[k] = v, v
	}
	a["winery"], b["winery"] = "No Such Winery", "Another Unknown Winery"
	if x, y := mustCall(t, "wine_quality.eval", a), mustCall(t, "wine_quality.eval", b); fmt.Sprint(x) != fmt.Sprint(y) {
		t.Fatalf("unknown wineries answered %v and %v", x, y)
	}
	if _, err := Call("wine_quality.eval", map[string]interface{}{"country": "Italy"}); err == nil {
		t.Fatal("a row with missing inputs: want an error")
	}
	mustCall(t, "wine_quality.eval", wineRow) // the runtime keeps serving after the error
}

func BenchmarkWineQualityEvalUncached(b *testing.B) {
	loadQuality(b)
	benchEval(b, "wine_uncached.eval")
}

func BenchmarkWineQualityEvalMemoryHit(b *testing.B) {
	loadQuality(b)
	mustCall(b, "wine_quality.eval", wineRow) // fill the cache
	benchEval(b, "wine_quality.eval")
}

func benchEval(b *testing.B, function string) {
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Call(function, wineRow); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCacheHitGoalFromGo measures both sides in one run, interleaved (MLBRIDGE_GO_PERF=1; the
// race detector makes timings meaningless, so it is opt-in like TestPerformanceGoals).
func TestCacheHitGoalFromGo(t *testing.T) {
	if os.Getenv("MLBRIDGE_GO_PERF") == "" {
		t.Skip("MLBRIDGE_GO_PERF is not set (timing goal; run without -race)")
	}
	loadQuality(t)
	mustCall(t, "wine_quality.eval", wineRow)
	per := func(function string, n int) time.Duration {
		start := time.Now()
		for i := 0; i < n; i++ {
			mustCall(t, function, wineRow)
		}
		return time.Since(start) / time.Duration(n)
	}
	ratios := make([]float64, 5)
	for round := range ratios {
		uncached, hit := per("wine_uncached.eval", 50), per("wine_quality.eval", 2000)
		ratios[round] = float64(uncached) / float64(hit)
		t.Logf("round %d: uncached %v, memory hit %v: %.0fx", round, uncached, hit, ratios[round])
	}
	slices.Sort(ratios)
	if median := ratios[len(ratios)/2]; median < 50 {
		t.Fatalf("a cache hit from Go is %.0fx faster than uncached (median of 5); goal 50x", median)
	}
}
