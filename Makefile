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
# apt-get needs root; use sudo when we are not root and it exists.
SUDO     := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
MAKEFLAGS += --no-print-directory
# TensorFlow's C++ start-up chatter hides the demo's output.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test setup venv system-packages data model quality-model shim go bench bench-large bench-micro lint clean

demo: setup
	@echo "== Python: bridge.call(\"process_batch\", ...) =="
	$(PY) -m bridge.cli demo
	@echo "== Go: 1,000 goroutines through the Batcher =="
	$(WINEDEMO) -data "$$($(PY) -m bridge.cli data)" -mode batcher
	@echo "== C: MetaCall's C API from 2 threads =="
	$(C_DEMO) -threads 2 "$$($(PY) -m bridge.cli data)"

test: setup lint
	$(PY) -m pytest
	ctest --test-dir $(CMAKE_BUILD) --output-on-failure
	cd go_host && go test -race -count=1 ./...

# The side-by-side wine benchmark (README's results table); bench-large also trains the large model.
bench: setup
	$(PY) -m bridge.cli bench wine --model $(SIZE)

bench-large:
	$(MAKE) SIZE=large bench

# Micro-benchmarks: pytest-benchmark, go test -bench and the C call benchmark.
bench-micro: setup
	$(PY) -m pytest --benchmark-enable -k "bench or benchmark"
	cd go_host && MLBRIDGE_GO_PERF=1 go test -count=1 -run 'PerformanceGoals|CacheHitGoal' -v ./metacall/
	cd go_host && go test -run '^$$' -bench . -benchtime 2s ./metacall/
	$(BUILD)/bin/bench_c_call

setup: venv system-packages data model quality-model shim go

# --- Python -------------------------------------------------------------------------------
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,aerospike]'
	touch $@

# --- Debian packages (the Redis server that the cache tests start on loopback) ------------
system-packages:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server from Debian"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

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

# --- Code quality -------------------------------------------------------------------------
lint: venv
	$(PY) -m ruff check bridge tests python_scripts c_shim
	$(PY) -m ruff format --check bridge tests python_scripts c_shim
	$(PY) -m mypy bridge python_scripts tests
	cd go_host && test -z "$$(gofmt -l .)" && go vet ./...

clean:
	rm -rf $(BUILD)
