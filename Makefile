# mlbridge: the two commands a newcomer needs are `make demo` and `make test`.
# Everything else here is what those two build, once, into .venv/ and build/.

PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
BUILD    := build
CMAKE_BUILD := $(BUILD)/cmake
SIZE     ?= small
MODEL    := $(BUILD)/models/sentiment-$(SIZE)/saved_model.pb
SHIM     := $(BUILD)/lib/libmetacall.so
WINEDEMO := $(BUILD)/bin/winedemo
C_DEMO   := $(BUILD)/bin/wine_sentiment
SERVER   := $(BUILD)/bin/mlbridge-server
# apt-get needs root; use sudo when we are not root and it exists.
SUDO     := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
MAKEFLAGS += --no-print-directory
# TensorFlow's C++ start-up chatter hides the demo's output.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-python test-c test-go test-conformance bench-deps setup venv system-packages data model quality-model shim go bench bench-large bench-micro lint clean fuzz fuzz-c fuzz-py fuzz-go fuzz-tools mly-peer bench-http bench-tools

demo: setup
	@echo "== Python: bridge.call(\"process_batch\", ...) =="
	$(PY) -m bridge.cli demo
	@echo "== Go: 1,000 goroutines through the Batcher =="
	$(WINEDEMO) -data "$$($(PY) -m bridge.cli data)" -mode batcher
	@echo "== C: MetaCall's C API from 2 threads =="
	$(C_DEMO) -threads 2 "$$($(PY) -m bridge.cli data)"
	@echo "== HTTP: mlbridge-server (mly's REST API): one row, a batch, a repeat from the cache =="
	$(PY) -m bridge.cli http-demo examples/wine_quality.yaml

# make test = lint + the three suites; each suite runs alone too.
test: setup lint
	$(MAKE) test-python test-c test-go

# bench-deps: the Python suite runs the wine benchmark's smoke test (every approach, 50 reviews);
# mly-peer: the client's tests run against viant/mly's own server as well as ours.
test-python: setup bench-deps mly-peer
	$(PY) -m pytest

test-c: setup
	ctest --test-dir $(CMAKE_BUILD) --output-on-failure

# go_host/interop is a module of its own (viant/mly's Go client from the Go module proxy, no cgo).
test-go: setup
	cd go_host && go test -race -count=1 ./...
	cd go_host/interop && CGO_ENABLED=0 go test -count=1 ./...

# The cross-host conformance table (tests/conformance) alone, through all three hosts.
test-conformance: setup
	$(PY) -m pytest tests/test_conformance.py
	ctest --test-dir $(CMAKE_BUILD) --output-on-failure -R conformance
	cd go_host && go test -race -count=1 ./conformance/

# The side-by-side wine benchmark (docs/benchmarks.md); bench-large also trains the large model.
bench: setup bench-deps
	$(PY) -m bridge.cli bench wine --model $(SIZE)

bench-large:
	$(MAKE) SIZE=large bench

# Micro-benchmarks: pytest-benchmark, go test -bench and the C call benchmark. The Go and C
# speed goals print "GOAL <name>: ... PASS|MISS" lines; a Python goal fails its test, and a
# failed pytest run is one MISS line (the Go and C goals are still measured). The last step
# lists them, from this one run, and fails when one is missed, was not measured, or a goal
# test failed.
GOALS_LOG := $(BUILD)/bench-micro-goals.log
GOALS     := go-call-noop go-batcher-throughput winedemo-direct-threads winedemo-direct-time c-metacallv_s
bench-micro: setup bench-deps
	@mkdir -p $(BUILD) && : > $(GOALS_LOG)
	$(PY) -m pytest --benchmark-enable -k "bench or benchmark" || \
	  echo "GOAL python: a pytest goal or benchmark failed (its output is above) MISS" >> $(GOALS_LOG)
	cd go_host && MLBRIDGE_GO_PERF=1 go test -count=1 -run 'PerformanceGoals|CacheHitGoal' -v ./metacall/ 2>&1 | tee -a ../$(GOALS_LOG)
	cd go_host && MLBRIDGE_GO_PERF=1 MLBRIDGE_WINE_CSV="$$(../$(PY) -m bridge.cli data)" go test -count=1 -run AdmissionGoals -v ./cmd/winedemo/ 2>&1 | tee -a ../$(GOALS_LOG)
	cd go_host && go test -run '^$$' -bench . -benchtime 2s ./metacall/ ./batcher/
	$(BUILD)/bin/bench_c_call | tee -a $(GOALS_LOG)
	@echo "== speed goals, from this run =="; status=0; grep '^GOAL ' $(GOALS_LOG); \
	  for g in $(GOALS); do grep -q "^GOAL $$g:" $(GOALS_LOG) || { echo "GOAL $$g: not measured MISS"; status=1; }; done; \
	  if grep -q ' MISS$$' $(GOALS_LOG) || grep -q '^\(--- \)\{0,1\}FAIL' $(GOALS_LOG); then status=1; fi; \
	  [ $$status = 0 ] || echo "bench-micro: a goal was missed or a goal test failed (log: $(GOALS_LOG))"; exit $$status

# The HTTP benchmark (docs/benchmarks.md): wrk on loopback against a Go net/http floor, our
# server, the real mly server and two of ours behind haproxy sharing one redis-server; one run,
# ~3 minutes, results in bench/results/http.{md,json}. Not part of make test.
bench-http: setup bench-deps bench-tools mly-peer
	cd go_host && go build -o ../$(BUILD)/bin/httpfloor ./cmd/httpfloor
	$(PY) -m bridge.bench.http

setup: venv system-packages data model quality-model shim go

# --- Python -------------------------------------------------------------------------------
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,aerospike]'
	touch $@

# The [bench] extra (psutil, matplotlib): benchmarks only, never the embedded runtime.
bench-deps: $(VENV)/.bench-installed
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,aerospike,bench]'
	touch $@

# --- Debian packages (the Redis server that the cache tests start on loopback) ------------
system-packages:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server from Debian"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# wrk (the load generator) and haproxy (the load balancer) for make bench-http, from Debian.
bench-tools:
	@command -v wrk >/dev/null && command -v haproxy >/dev/null || { \
	  echo "installing wrk and haproxy from Debian"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk haproxy >/dev/null; }

# --- Data and models ----------------------------------------------------------------------
data: venv
	$(PY) -m bridge.cli data

model: $(MODEL)
$(MODEL): | venv
	$(PY) -m bridge.cli train sentiment --size $(SIZE)

quality-model: $(BUILD)/models/wine-quality/saved_model.pb
$(BUILD)/models/wine-quality/saved_model.pb: | venv
	$(PY) -m bridge.cli train quality

# --- C shim (libmetacall.so) and the Go host ----------------------------------------------
shim: venv
	cmake -S . -B $(CMAKE_BUILD) -DPython3_EXECUTABLE=$(abspath $(PY)) >/dev/null
	cmake --build $(CMAKE_BUILD) -j2

go: shim
	cd go_host && go build -o ../$(WINEDEMO) ./cmd/winedemo
	cd go_host && go build -o ../$(SERVER) ./cmd/mlbridge-server

# --- The real mly server (viant/mly v1.0.1), a benchmark and interop peer -----------------------
# Built from the Go module proxy (go_host/peers/mlyserver, its own module) against the TensorFlow
# C API inside the tensorflow-cpu wheel: libtensorflow_cc.so.2 exports the TF_* graph/session
# calls, libtensorflow_framework.so.2 the rest. graft links -ltensorflow, so build/peers/ holds
# symlinks under the names the linker and the binary's loader look for (rpath = build/peers).
# ~50 s on 2 cores; `make test` builds it (test-python), so a wheel without the C API stops
# `make test` here with a message; tests run without it (plain pytest) skip, naming the target.
MLY_PEER := $(BUILD)/peers/mly-server
TF_WHEEL  = $(abspath $(VENV))/lib/python3.11/site-packages/tensorflow
mly-peer: $(MLY_PEER)
$(MLY_PEER): go_host/peers/mlyserver/main.go go_host/peers/mlyserver/go.mod go_host/peers/mlyserver/go.sum | venv
	@TFW=$$($(PY) -c 'import importlib.util as u, os; print(os.path.dirname(u.find_spec("tensorflow").origin))') && \
	  test -f "$$TFW/libtensorflow_cc.so.2" -a -f "$$TFW/libtensorflow_framework.so.2" -a -f "$$TFW/include/tensorflow/c/c_api.h" || \
	  { echo "mly-peer: no TensorFlow C API in the wheel at $$TFW" >&2; exit 1; } && \
	  PEERS=$(abspath $(BUILD))/peers && mkdir -p "$$PEERS" && \
	  ln -sfn "$$TFW/libtensorflow_cc.so.2" "$$PEERS/libtensorflow.so" && \
	  ln -sfn "$$TFW/libtensorflow_cc.so.2" "$$PEERS/libtensorflow_cc.so.2" && \
	  ln -sfn "$$TFW/libtensorflow_framework.so.2" "$$PEERS/libtensorflow_framework.so.2" && \
	  ln -sfn "$$TFW/libtensorflow_framework.so.2" "$$PEERS/libtensorflow_framework.so" && \
	  echo "building $@ (mly v1.0.1 + graft v0.9.0 against $$TFW)" && \
	  cd go_host/peers/mlyserver && \
	  CGO_ENABLED=1 CGO_CFLAGS="-I$$TFW/include" \
	  CGO_LDFLAGS="-L$$PEERS -Wl,-rpath,$$PEERS -ltensorflow_framework" \
	  go build -mod=readonly -o "$$PEERS/mly-server.tmp" . && mv "$$PEERS/mly-server.tmp" "$$PEERS/mly-server"

# --- Fuzzing: each fuzzer runs FUZZ_SECONDS; make test replays the committed corpora -------
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := $(BUILD)/fuzz
fuzz: fuzz-c fuzz-py fuzz-go

fuzz-tools:
	@command -v clang >/dev/null || { \
	  echo "installing clang (libFuzzer) from Debian"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; }

# libFuzzer on the C value API and the call path's conversions (c_shim/fuzz). New inputs go to
# build/fuzz/corpus (the committed seeds in c_shim/fuzz/corpus are read, not written);
# a finding stops the run and leaves its input in build/fuzz/artifacts.
fuzz-c: venv fuzz-tools
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DMLBRIDGE_FUZZ=ON -DMLBRIDGE_ASAN=OFF \
	  -DPython3_EXECUTABLE=$(abspath $(PY)) >/dev/null
	cmake --build $(FUZZ_BUILD) -j2 --target fuzz_values fuzz_convert fuzz_handles
	@for t in values convert handles; do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts; \
	  echo "== libFuzzer: $$t, $(FUZZ_SECONDS) s =="; \
	  PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=0 $(FUZZ_BUILD)/fuzz-bin/fuzz_$$t \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	    $(FUZZ_BUILD)/corpus/$$t c_shim/fuzz/corpus/$$t || exit 1; \
	done

# atheris on the configuration reader and on key building (fuzz/*_target.py), laid out as
# fuzz-c: new inputs in build/fuzz/corpus/py-*, findings in build/fuzz/artifacts.
fuzz-py: $(VENV)/.fuzz-installed
	@for t in config keys; do \
	  mkdir -p $(FUZZ_BUILD)/corpus/py-$$t $(FUZZ_BUILD)/artifacts; \
	  echo "== atheris: $$t, $(FUZZ_SECONDS) s =="; \
	  $(PY) fuzz/$${t}_target.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/py-$$t- \
	    $(FUZZ_BUILD)/corpus/py-$$t fuzz/corpus/$$t || exit 1; \
	done

$(VENV)/.fuzz-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[fuzz]'
	touch $@

# go test -fuzz on the Go argument encoder through the runtime (go_host/metacall/fuzz_test.go),
# one worker; minimizing a new input stops after 2000 runs (a time limit kills and restarts the
# worker, which starts Python again: the default 60 s left it idle for minutes). New inputs stay
# in Go's cache; a finding is written to
# go_host/metacall/testdata/fuzz/FuzzCallRoundTrip/, which plain `go test` (make test) replays.
fuzz-go: shim
	cd go_host && go test -run '^$$' -fuzz '^FuzzCallRoundTrip$$' -fuzztime $(FUZZ_SECONDS)s -fuzzminimizetime 2000x -parallel 1 ./metacall/
	@# The HTTP request decoder (go_host/server/fuzz_test.go; corpus in server/testdata/fuzz/),
	@# no runtime: without MLBRIDGE_MLY_MODELS the package's TestMain loads no models.
	cd go_host && for t in FuzzDecodeBody FuzzDecodeQuery; do \
	  env -u MLBRIDGE_MLY_MODELS go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZ_SECONDS)s -parallel 1 ./server/ || exit 1; \
	done

# --- Code quality -------------------------------------------------------------------------
lint: venv
	$(PY) -m ruff check bridge tests python_scripts c_shim fuzz
	$(PY) -m ruff format --check bridge tests python_scripts c_shim fuzz
	$(PY) -m mypy bridge python_scripts tests fuzz
	cd go_host && test -z "$$(gofmt -l .)" && go vet ./...
	cd go_host/interop && CGO_ENABLED=0 go vet ./...

clean:
	rm -rf $(BUILD)
