// Command winedemo is MetaCall's published wine-review experiment in Go: score the first n
// reviews with python_scripts/wine_sentiment.py through the metacall package, then print one
// JSON line (host, reviews, workers, mode, seconds, seconds_total, peak_rss_mb, peak_threads,
// positive, negative). peak_threads is the most OS threads the process had at once while it
// scored (sampled every millisecond).
//
//	winedemo -data wine-reviews.csv -n 1000 -mode direct  -workers 2   -batch 32
//	winedemo -data wine-reviews.csv -n 1000 -mode batcher -workers 1000 -batch 32
//
// -labels FILE writes each review's label, one per line, so that a benchmark can check that
// every host scored every review alike. -warmup scores the reviews once before the timed pass,
// so that seconds measures the steady state rather than TensorFlow's first-call costs; with
// -passes N, seconds is the median of N timed passes.
//
// direct: the published shape. The reviews are cut into batches of -batch and -workers
// goroutines call process_batch with them.
// batcher: -workers goroutines each submit single reviews to a metacall.Batcher, which
// gathers up to -batch of them per process_batch call.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"mlbridge/go_host/metacall"
)

const scriptName = "wine_sentiment.py"

type summary struct {
	Host         string  `json:"host"`
	Reviews      int     `json:"reviews"`
	Workers      int     `json:"workers"`
	Mode         string  `json:"mode"`
	Seconds      float64 `json:"seconds"`
	SecondsTotal float64 `json:"seconds_total"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	PeakThreads  int     `json:"peak_threads"`
	Positive     int     `json:"positive"`
	Negative     int     `json:"negative"`
}

type config struct {
	data        string
	script      string
	n           int
	workers     int
	batch       int
	mode        string
	wait        time.Duration
	dispatchers int
	labels      string
	warmup      bool
	passes      int
}

func main() {
	start := time.Now()
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "winedemo:", err)
		os.Exit(2)
	}
	out, err := run(cfg, start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "winedemo:", err)
		os.Exit(1)
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("winedemo", flag.ContinueOnError)
	fs.StringVar(&cfg.data, "data", os.Getenv("MLBRIDGE_WINE_CSV"), "wine reviews CSV (default $MLBRIDGE_WINE_CSV)")
	fs.StringVar(&cfg.script, "script", "", "the scoring script (default: "+scriptName+" in $LOADER_SCRIPT_PATH, else python_scripts/ of the repository)")
	fs.IntVar(&cfg.n, "n", 1000, "number of reviews to score")
	fs.IntVar(&cfg.workers, "workers", 0, "goroutines (default: the CPU count for direct, one per review for batcher)")
	fs.IntVar(&cfg.batch, "batch", 32, "reviews per process_batch call (batcher: the maximum)")
	fs.StringVar(&cfg.mode, "mode", "direct", "direct or batcher")
	fs.DurationVar(&cfg.wait, "wait", 2*time.Millisecond, "batcher: how long a batch waits for more reviews")
	fs.IntVar(&cfg.dispatchers, "dispatchers", 1, "batcher: batches in flight at once")
	fs.StringVar(&cfg.labels, "labels", "", "write one label per review to this file")
	fs.BoolVar(&cfg.warmup, "warmup", false, "score the reviews once untimed first (steady-state timing)")
	fs.IntVar(&cfg.passes, "passes", 1, "timed passes; seconds is their median")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.mode != "direct" && cfg.mode != "batcher":
		return cfg, fmt.Errorf("-mode %q: want direct or batcher", cfg.mode)
	case cfg.n <= 0:
		return cfg, fmt.Errorf("-n %d: want at least 1", cfg.n)
	case cfg.passes <= 0:
		return cfg, fmt.Errorf("-passes %d: want at least 1", cfg.passes)
	case cfg.batch <= 0:
		return cfg, fmt.Errorf("-batch %d: want at least 1", cfg.batch)
	case cfg.workers < 0:
		return cfg, fmt.Errorf("-workers %d: want at least 1", cfg.workers)
	case cfg.data == "":
		return cfg, errors.New("no data: pass -data PATH or set MLBRIDGE_WINE_CSV")
	}
	if cfg.workers == 0 {
		cfg.workers = runtime.NumCPU()
		if cfg.mode == "batcher" {
			cfg.workers = cfg.n
		}
	}
	return cfg, nil
}

// findScript returns what to pass to LoadFromFile: the -script flag, else the bare name when
// LOADER_SCRIPT_PATH is set (the runtime searches it), else python_scripts/ of the repository
// that holds the executable or the working directory.
func findScript(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if os.Getenv("LOADER_SCRIPT_PATH") != "" {
		return scriptName, nil
	}
	var starts []string
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			candidate := filepath.Join(dir, "python_scripts", scriptName)
			if _, err := os.Stat(candidate); err == nil {
				return candidate, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find python_scripts/%s: pass -script or set LOADER_SCRIPT_PATH", scriptName)
}

func run(cfg config, start time.Time) (summary, error) {
	reviews, err := readDescriptions(cfg.data, cfg.n)
	if err != nil {
		return summary{}, err
	}
	script, err := findScript(cfg.script)
	if err != nil {
		return summary{}, err
	}
	if err := metacall.Initialize(); err != nil {
		return summary{}, err
	}
	defer metacall.Destroy()
	if err := metacall.LoadFromFile("py", []string{script}); err != nil {
		return summary{}, err
	}

	score := func() ([]interface{}, error) {
		if cfg.mode == "direct" {
			return scoreDirect(reviews, cfg.workers, cfg.batch)
		}
		return scoreBatcher(reviews, cfg)
	}
	threads := sampleThreads(time.Millisecond)
	if cfg.warmup {
		if _, err := score(); err != nil {
			return summary{}, err
		}
	}
	var labels []interface{}
	passes := make([]float64, cfg.passes)
	for i := range passes {
		inference := time.Now()
		if labels, err = score(); err != nil {
			return summary{}, err
		}
		passes[i] = time.Since(inference).Seconds()
	}
	peakThreads := threads.Stop()
	slices.Sort(passes)
	seconds := passes[len(passes)/2]

	out := summary{
		Host:        "go",
		Reviews:     len(reviews),
		Workers:     cfg.workers,
		Mode:        cfg.mode,
		Seconds:     seconds,
		PeakThreads: peakThreads,
	}
	var lines strings.Builder
	for i, l := range labels {
		positive, err := isPositive(l)
		if err != nil {
			return summary{}, fmt.Errorf("review %d: %w", i, err)
		}
		if positive {
			out.Positive++
			lines.WriteString("POSITIVE\n")
		} else {
			out.Negative++
			lines.WriteString("NEGATIVE\n")
		}
	}
	if cfg.labels != "" {
		if err := os.WriteFile(cfg.labels, []byte(lines.String()), 0o644); err != nil {
			return summary{}, err
		}
	}
	metacall.Destroy()
	out.SecondsTotal = time.Since(start).Seconds()
	if out.PeakRSSMB, err = peakRSSMB(); err != nil {
		return summary{}, err
	}
	return out, nil
}

// isPositive reads one process_batch result: {"label": "POSITIVE"|"NEGATIVE", "score": …}.
func isPositive(result interface{}) (bool, error) {
	m, ok := result.(map[string]interface{})
	if !ok {
		return false, fmt.Errorf("result %v: want a dict with a label", result)
	}
	label, ok := m["label"].(string)
	if !ok {
		return false, fmt.Errorf("result %v: no string label", result)
	}
	return strings.EqualFold(label, "POSITIVE"), nil
}

// scoreDirect is the published shape: fixed batches handed to worker goroutines that call
// process_batch themselves.
func scoreDirect(reviews []string, workers, batch int) ([]interface{}, error) {
	results := make([]interface{}, len(reviews))
	starts := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range starts {
				hi := min(lo+batch, len(reviews))
				got, err := metacall.Call("process_batch", reviews[lo:hi])
				if err == nil {
					err = place(results[lo:hi], got)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for lo := 0; lo < len(reviews); lo += batch {
		select {
		case starts <- lo:
		case err = <-errc:
			break feed
		}
	}
	close(starts)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return results, err
}

func place(dst []interface{}, got interface{}) error {
	list, ok := got.([]interface{})
	if !ok || len(list) != len(dst) {
		return fmt.Errorf("process_batch of %d reviews returned %T of length %d", len(dst), got, len(list))
	}
	copy(dst, list)
	return nil
}

// scoreBatcher submits reviews one by one from many goroutines; the Batcher gathers them.
func scoreBatcher(reviews []string, cfg config) ([]interface{}, error) {
	b := metacall.NewBatcher("process_batch", metacall.BatcherOptions{
		MaxBatchSize: cfg.batch,
		MaxWait:      cfg.wait,
		QueueSize:    len(reviews),
		Dispatchers:  cfg.dispatchers,
	})
	defer b.Close()
	results := make([]interface{}, len(reviews))
	next := make(chan int, len(reviews))
	for i := range reviews {
		next <- i
	}
	close(next)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for w := 0; w < min(cfg.workers, len(reviews)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				got, err := b.Call(ctx, reviews[i])
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				results[i] = got
			}
		}()
	}
	wg.Wait()
	return results, firstErr
}
