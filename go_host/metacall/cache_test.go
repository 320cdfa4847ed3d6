package metacall

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The prediction cache lives in the Python runtime, so a Go caller gets hits without any cache
// code of its own: these tests call the wine quality model served through
// examples/wine_quality.yaml (a memory datastore) and the same model with no datastore. Its
// benchmarks and speed goal are in cache_speed_test.go.

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
