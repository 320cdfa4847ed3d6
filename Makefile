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
# apt-get needs root; use sudo when we are not root and it exists.
SUDO     := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: demo test setup venv system-packages data model shim go bench lint clean

demo: setup
	$(PY) -m bridge.cli demo

test: setup
	$(PY) -m pytest
	ctest --test-dir $(CMAKE_BUILD) --output-on-failure
	cd go_host && go test -race -count=1 ./...

bench: setup
	$(PY) -m bridge.cli bench wine

setup: venv system-packages data model shim go

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
	$(PY) -m mypy bridge python_scripts
	cd go_host && test -z "$$(gofmt -l .)" && go vet ./...

clean:
	rm -rf $(BUILD)
