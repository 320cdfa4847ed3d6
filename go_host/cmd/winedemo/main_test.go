package main

import (
	"strings"
	"testing"
)

func TestParseDescriptionsReadsTheColumnByName(t *testing.T) {
	csv := "id,country,description,points\n" +
		"0,Italy,\"Aromas, with a comma\",87\n" +
		"1,Portugal,\"Two\nlines\",87\n" +
		"2,US,third,90\n"
	got, err := parseDescriptions(strings.NewReader(csv), "t.csv", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "Aromas, with a comma" || got[1] != "Two\nlines" {
		t.Fatalf("got %q", got)
	}
	all, err := parseDescriptions(strings.NewReader(csv), "t.csv", 1000)
	if err != nil || len(all) != 3 {
		t.Fatalf("n beyond the file: got %d rows, %v", len(all), err)
	}
}

func TestParseDescriptionsRejectsAnotherCSV(t *testing.T) {
	if _, err := parseDescriptions(strings.NewReader("a,b\n1,2\n"), "t.csv", 1); err == nil ||
		!strings.Contains(err.Error(), "description") {
		t.Fatalf("got %v, want an error about the description column", err)
	}
}

func TestParseVmHWMIsInMB(t *testing.T) {
	status := "Name:\twinedemo\nVmPeak:\t  900000 kB\nVmHWM:\t  512000 kB\nVmRSS:\t  1024 kB\n"
	got, err := parseVmHWM(strings.NewReader(status))
	if err != nil || got != 500 {
		t.Fatalf("got %v, %v; want 500", got, err)
	}
	if _, err := parseVmHWM(strings.NewReader("Name:\tx\n")); err == nil {
		t.Fatal("no VmHWM line: want an error")
	}
}

func TestPeakRSSOfThisProcessIsPositive(t *testing.T) {
	mb, err := peakRSSMB()
	if err != nil || mb <= 0 {
		t.Fatalf("got %v, %v", mb, err)
	}
}

func TestParseFlagsDefaultsAndChecks(t *testing.T) {
	t.Setenv("MLBRIDGE_WINE_CSV", "/data/wine.csv")
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.data != "/data/wine.csv" || cfg.n != 1000 || cfg.batch != 32 || cfg.mode != "direct" || cfg.workers < 1 {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-mode", "batcher", "-n", "50"})
	if err != nil || cfg.workers != 50 {
		t.Fatalf("batcher default workers: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"-mode", "threads"}, {"-n", "0"}, {"-batch", "0"}, {"-workers", "-1"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	t.Setenv("MLBRIDGE_WINE_CSV", "")
	if _, err := parseFlags(nil); err == nil || !strings.Contains(err.Error(), "MLBRIDGE_WINE_CSV") {
		t.Fatalf("no data: got %v", err)
	}
}

func TestIsPositiveReadsTheLabel(t *testing.T) {
	pos, err := isPositive(map[string]interface{}{"label": "POSITIVE", "score": 0.9})
	if err != nil || !pos {
		t.Fatalf("POSITIVE: %v, %v", pos, err)
	}
	pos, err = isPositive(map[string]interface{}{"label": "NEGATIVE", "score": 0.9})
	if err != nil || pos {
		t.Fatalf("NEGATIVE: %v, %v", pos, err)
	}
	if _, err := isPositive("POSITIVE"); err == nil {
		t.Fatal("a bare string: want an error")
	}
}

func TestParseThreadsReadsTheCount(t *testing.T) {
	status := "Name:\twinedemo\nThreads:\t17\nVmHWM:\t  512000 kB\n"
	if got, err := parseThreads(strings.NewReader(status)); err != nil || got != 17 {
		t.Fatalf("got %v, %v; want 17", got, err)
	}
	if _, err := parseThreads(strings.NewReader("Name:\tx\n")); err == nil {
		t.Fatal("no Threads line: want an error")
	}
}
