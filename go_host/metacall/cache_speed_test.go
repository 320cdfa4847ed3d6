// The cache's speed from Go: benchmarks of wine_quality.eval uncached and as a memory hit, and
// the goal (a hit >= 50x faster, MLBRIDGE_GO_PERF=1; make bench-micro runs it).

package metacall

import (
	"os"
	"slices"
	"testing"
	"time"
)

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
