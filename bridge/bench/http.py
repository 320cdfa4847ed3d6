"""``make bench-http``: mly's REST API under wrk on loopback, every server side by side in one run.

``python -m bridge.bench.http [--duration 10] [--only floor,mlbridge,...]`` starts each target on
a free loopback port, checks its answers, drives it with ``wrk`` (HTTP/1.1 keep-alive, 2
threads, 32 connections) and stops it; it prints one table and writes it to
``bench/results/http.{md,json}``. One model for every target: viant/mly's
``vectorization_int_model`` served as ``vec``, whose text input ``tv`` is a wildcard (its raw
text is in the cache key), so a new text is a row no cache has seen.

Targets:

- ``floor``: ``go_host/cmd/httpfloor``, a Go ``net/http`` handler that reads the body and
  answers a fixed JSON body, the bytes our server answers for the repeated row;
- ``mlbridge``: ``build/bin/mlbridge-server`` with a memory datastore (its default batching);
- ``mly``: viant/mly v1.0.1's server (``build/peers/mly-server``, ``make mly-peer``) with a
  memory datastore (which it writes and never reads);
- ``mlbridge-x2``: two of ours behind haproxy (round robin, keep-alive to the servers), sharing
  one ``redis-server`` as L1 behind each one's memory cache.

Scenarios: ``same``, one row repeated (a cache hit for ours once the first has been answered;
mly evaluates every request), and ``distinct``, a new row in every request (nothing cached:
our server's batching of concurrent misses against mly's one evaluation per request). Each run
is preceded by a warm-up run whose rows differ from the measured ones.

Per run: req/s, p50 and p99 latency (wrk's own histogram), non-2xx answers and socket errors,
and the cores the target's processes used and what the rest of the machine used meanwhile
("other": the machine is shared, a run with much "other" is a noisy one).

Memory, per target after each scenario (summed over its processes): the peak whole-process RSS
so far (VmHWM), the RSS now split into anonymous and file-backed pages, threads, and for ours
the Go runtime's share (``go_memstats_sys_bytes`` less what it released), the memory
datastore's entries and accounted bytes, and the rows the model evaluated. The baseline is a
plain Python process doing the same model work without a server or a cache: it loads the
SavedModel with TensorFlow and evaluates the repeated row (against the ``same`` figure: our
cache then holds that one row), then as many distinct rows in as many batches as our server
evaluated over the whole run (against the ``distinct`` figure, whose cache holds every row of
the run: its size is stated beside it).

Over 400 lines because it is one benchmark program: starting each target, checking its
answers, driving wrk and sampling CPU and memory share the run's state and serve nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bridge.bench.memory import peak_rss_mb, process_memory
from bridge.server import stop_process

REPO = Path(__file__).resolve().parents[2]
FLOOR_BIN = REPO / "build" / "bin" / "httpfloor"
SERVER_BIN = REPO / "build" / "bin" / "mlbridge-server"
MLY_BIN = REPO / "build" / "peers" / "mly-server"
MODELS_ENV = "MLBRIDGE_MLY_MODELS"

MODEL_ID = "vec"
MODEL_DIR = "vectorization_int_model"
EVAL_PATH = f"/v1/api/model/{MODEL_ID}/eval"
ROW = '{"tv":"a b c","sl":"a"}'
ROW_EXPAND = 360  # mly's own e2e value for this row
TARGETS = ("floor", "mlbridge", "mly", "mlbridge-x2")
SCENARIOS = ("same", "distinct")

GOALS = {
    "same vs floor": 0.8,
    "distinct vs floor": 0.25,
    "distinct vs mly": 2.0,
    "rss same vs python": 1.1,  # at most: like for like, our cache holding one row
}

_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""

LUA = {
    "same": f"""
wrk.method = "POST"
wrk.body = '{ROW}'
wrk.headers["Content-Type"] = "application/json"
{_DONE}""",
    # A new text per request: the run's tag (wrk's argument), the thread and a counter.
    "distinct": f"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  tag = args[1] or ""
  n = 0
end
function request()
  n = n + 1
  return wrk.format("POST", nil, {{["Content-Type"] = "application/json"}},
    string.format('{{"tv":"a b %s%d_%d","sl":"a"}}', tag, id, n))
end
{_DONE}""",
}


class BenchError(Exception):
    """The benchmark cannot run or a target answered wrongly."""


@dataclass
class Settings:
    models: Path
    out: Path
    work: Path
    targets: tuple[str, ...] = TARGETS
    duration_s: int = 10
    warmup_s: int = 2
    connections: int = 32
    threads: int = 2


@dataclass
class Run:
    target: str
    scenario: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    target_cores: float
    wrk_cores: float
    other_cores: float


@dataclass
class Memory:
    """A target's processes after one scenario's run (sums over its processes, MB)."""

    target: str
    after: str
    peak_rss_mb: float
    """VmHWM: the peak since the processes started (model loading included)."""
    rss_mb: float
    anon_mb: float
    file_mb: float
    threads: int
    go_runtime_mb: float | None = None
    """Ours: what the Go runtime holds from the OS (heap, stacks, its structures), less what it
    released."""
    cache_entries: int | None = None
    cache_mb: float | None = None
    """Ours: the memory datastore's accounted size (keys, values and per-entry overhead)."""
    rows_evaluated: int | None = None
    evaluations: int | None = None
    memo_entries: int | None = None
    memo_mb: float | None = None
    """Ours, when it has one: the Go-side memo of exact requests' answers (part of Go's share)."""


@dataclass
class Report:
    runs: list[Run] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)
    """Target → the sum of its processes' peak RSS over the whole run; ``python`` = the plain
    Python process that evaluated the repeated row."""
    memory: list[Memory] = field(default_factory=list)
    python_mb: dict[str, float] = field(default_factory=dict)
    """Scenario → the peak RSS of the plain Python process doing that scenario's model work."""
    python_work: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


# -- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Child:
    """A started server process; its output goes to ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def stop(self) -> None:
        stop_process(self.process, timeout=15)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def wait_until(self, ready: Callable[[], bool], timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{self.name} did not start:\n{self.tail()}")
            time.sleep(0.05)


def spawn(
    stack: ExitStack, name: str, argv: list[str], work: Path, env: dict[str, str] | None = None
) -> Child:
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        )
    child = Child(name, process, log)
    stack.callback(child.stop)
    return child


def listening_url(child: Child) -> Callable[[], bool]:
    """Ready once the child has printed ``listening on http://…`` (ours and the floor)."""
    pattern = re.compile(r"listening on (http://\S+)")

    def ready() -> bool:
        match = pattern.search(child.tail())
        if match:
            child.url = match.group(1)
        return bool(match)

    return ready


def accepts(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    return ready


def post(url: str, body: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_ours(stack: ExitStack, s: Settings, name: str, datastore: str) -> Child:
    config = s.work / name / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"""Endpoint:
  Port: 0
  Host: 127.0.0.1
Models:
  - ID: {MODEL_ID}
    URL: {s.models / MODEL_DIR}
    DataStore: cache
    Inputs: [{{Name: tv, Wildcard: true}}]
{datastore}""",
        encoding="utf-8",
    )
    child = spawn(stack, name, [str(SERVER_BIN), "-c", str(config)], config.parent)
    child.wait_until(listening_url(child))
    return child


MEMORY_DATASTORE = "Datastores: [{ID: cache, Cache: {SizeMB: 256}, TimeToLiveMs: 3600000}]\n"


def redis_datastore(port: int) -> str:
    return f"""Datastores:
  - {{ID: cache, Cache: {{SizeMB: 256}}, TimeToLiveMs: 3600000, Connection: redis,
     Namespace: bench, Dataset: vec}}
Connections: [{{ID: redis, Kind: redis, Hostnames: 127.0.0.1, Port: {port}}}]
"""


def start_mly(stack: ExitStack, s: Settings) -> Child:
    port = free_port()
    work = s.work / "mly"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yaml"
    config.write_text(
        f"""Endpoint:
  Port: {port}
models:
  - id: {MODEL_ID}
    url: {s.models / MODEL_DIR}
    useDict: true
    datastore: cache
    inputs:
      - name: tv
        wildcard: true
datastores:
  - id: cache
    cache:
      sizeMb: 256
    timeToLiveMs: 3600000
""",
        encoding="utf-8",
    )
    # mly copies the model under TMPDIR; each instance gets its own.
    child = spawn(stack, "mly", [str(MLY_BIN), "-c", str(config)], work, {"TMPDIR": str(work)})
    child.url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return post(child.url + EVAL_PATH, ROW)[0] == 200
        except OSError:  # not listening yet
            return False

    child.wait_until(ready)
    return child


def start_floor(stack: ExitStack, s: Settings, body: bytes) -> Child:
    work = s.work / "floor"
    work.mkdir(parents=True, exist_ok=True)
    (work / "body.json").write_bytes(body)
    argv = [str(FLOOR_BIN), "-body", str(work / "body.json")]
    child = spawn(stack, "floor", argv, work)
    child.wait_until(listening_url(child))
    return child


def start_redis(stack: ExitStack, s: Settings) -> tuple[Child, int]:
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no"]
    child = spawn(stack, "redis", argv, s.work / "redis")
    child.wait_until(accepts(port))
    return child, port


def start_haproxy(stack: ExitStack, s: Settings, backends: list[Child]) -> Child:
    port = free_port()
    work = s.work / "haproxy"
    work.mkdir(parents=True, exist_ok=True)
    servers = "".join(f"  server {b.name} {b.url.removeprefix('http://')}\n" for b in backends)
    config = work / "haproxy.cfg"
    config.write_text(
        f"""global
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bench
  bind 127.0.0.1:{port}
  default_backend ours
backend ours
  balance roundrobin
  http-reuse always
{servers}""",
        encoding="utf-8",
    )
    child = spawn(stack, "haproxy", ["haproxy", "-db", "-f", str(config)], work)
    child.url = f"http://127.0.0.1:{port}"
    child.wait_until(accepts(port))
    return child


# -- measuring ----------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    import psutil  # the [bench] extra

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def machine_busy_seconds() -> float:
    import psutil

    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


def wrk(s: Settings, url: str, scenario: str, tag: str, seconds: int) -> dict[str, Any]:
    script = s.work / f"{scenario}.lua"
    script.write_text(LUA[scenario], encoding="utf-8")
    argv = ["wrk", f"-t{s.threads}", f"-c{s.connections}", f"-d{seconds}s", "-s", str(script)]
    argv += [url + EVAL_PATH, "--", tag]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WRK "):
            result: dict[str, Any] = json.loads(line[4:])
            return result
    raise BenchError(f"wrk gave no summary ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def measure(s: Settings, target: str, scenario: str, url: str, pids: list[int], n: int) -> Run:
    wrk(s, url, scenario, f"w{n}_", s.warmup_s)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, own0, t0 = machine_busy_seconds(), cpu_seconds(pids), time.monotonic()
    w = wrk(s, url, scenario, f"m{n}_", s.duration_s)
    elapsed = time.monotonic() - t0
    busy, own = machine_busy_seconds() - busy0, cpu_seconds(pids) - own0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    seconds = w["duration_us"] / 1e6
    return Run(
        target=target,
        scenario=scenario,
        requests_per_s=round(w["requests"] / seconds, 1),
        p50_ms=w["p50_us"] / 1000,
        p99_ms=w["p99_us"] / 1000,
        max_ms=w["max_us"] / 1000,
        non_2xx=w["status"],
        socket_errors=w["connect"] + w["read"] + w["write"] + w["timeout"],
        target_cores=round(own / elapsed, 2),
        wrk_cores=round(wrk_cpu / elapsed, 2),
        other_cores=round(max(0.0, busy - own - wrk_cpu) / elapsed, 2),
    )


def check_answers(name: str, url: str) -> bytes:
    """The repeated row answers mly's value; returns the answer's bytes."""
    status, body = post(url + EVAL_PATH, ROW)
    answer = json.loads(body) if status == 200 else {}
    if answer.get("data") != {"expand": ROW_EXPAND}:
        raise BenchError(f"{name}: {ROW} answered {status} {body[:200]!r}")
    return body


def batch_sizes(rows: int, batches: int) -> list[int]:
    """``rows`` split into ``batches`` batches as even as can be (none empty)."""
    batches = min(batches, rows)
    return [rows // batches + (i < rows % batches) for i in range(batches)] if rows else []


def hold_model(model: str, rows: int = 0, batches: int = 0) -> None:
    """The RSS baseline: a plain Python process that loads the SavedModel with TensorFlow,
    evaluates the repeated row, then ``rows`` distinct rows in ``batches`` batches; prints its
    peak RSS in MB (run by :func:`plain_python_rss_mb`)."""
    import tensorflow as tf

    serve = tf.saved_model.load(model).signatures["serving_default"]
    out = serve(tv=tf.constant([["a b c"]]), sl=tf.constant([["a"]]))
    assert int(out["expand"].numpy()[0][0]) == ROW_EXPAND
    n = 0
    for size in batch_sizes(rows, batches):
        texts = [[f"a b p{n + i}"] for i in range(size)]
        serve(tv=tf.constant(texts), sl=tf.constant([["a"]] * size))
        n += size
    print(f"{peak_rss_mb():.1f}")


def plain_python_rss_mb(s: Settings, rows: int = 0, batches: int = 0) -> float:
    model = str(s.models / MODEL_DIR)
    code = f"from bridge.bench.http import hold_model; hold_model({model!r}, {rows}, {batches})"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if done.returncode != 0:
        raise BenchError(f"plain Python with the model failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


@contextmanager
def targets(s: Settings, report: Report) -> Iterator[dict[str, tuple[str, list[Child]]]]:
    """Starts the targets: name → (URL, its processes); stops them all on the way out."""
    with ExitStack() as stack:
        up: dict[str, tuple[str, list[Child]]] = {}
        ours = start_ours(stack, s, "mlbridge", MEMORY_DATASTORE)
        body = check_answers("mlbridge", ours.url)
        if "mlbridge" in s.targets:
            up["mlbridge"] = (ours.url, [ours])
        if "floor" in s.targets:
            floor = start_floor(stack, s, body)
            up["floor"] = (floor.url, [floor])
        if "mly" in s.targets:
            if os.access(MLY_BIN, os.X_OK):
                mly = start_mly(stack, s)
                check_answers("mly", mly.url)
                up["mly"] = (mly.url, [mly])
            else:
                missing = MLY_BIN.relative_to(REPO)
                report.notes.append(f"mly: {missing} is not built (make mly-peer builds it)")
        if "mlbridge-x2" in s.targets:
            redis, port = start_redis(stack, s)
            pair = [start_ours(stack, s, f"mlbridge-{i}", redis_datastore(port)) for i in (1, 2)]
            proxy = start_haproxy(stack, s, pair)
            check_answers("mlbridge-x2", proxy.url)
            up["mlbridge-x2"] = (proxy.url, [*pair, proxy, redis])
        yield {name: up[name] for name in s.targets if name in up}
        for name, (_, children) in up.items():
            report.rss_mb[name] = round(sum(peak_rss_mb(c.process.pid) for c in children), 1)


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


def metric_total(metrics: str, name: str) -> float | None:
    """The sum of every series of ``name`` in Prometheus text (None if it has none)."""
    total = None
    for line in metrics.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total


def go_runtime_mb(metrics: str) -> float:
    """What the Go runtime holds from the OS, from ours' Prometheus text: sys less released."""
    sys_bytes = metric_total(metrics, "go_memstats_sys_bytes") or 0.0
    return (sys_bytes - (metric_total(metrics, "go_memstats_heap_released_bytes") or 0.0)) / 2**20


def sample_memory(target: str, after: str, children: list[Child]) -> Memory:
    mem = [process_memory(c.process.pid) for c in children]
    sample = Memory(
        target=target,
        after=after,
        peak_rss_mb=round(sum(m.peak_rss_mb for m in mem), 1),
        rss_mb=round(sum(m.rss_mb for m in mem), 1),
        anon_mb=round(sum(m.anon_mb for m in mem), 1),
        file_mb=round(sum(m.file_mb for m in mem), 1),
        threads=sum(m.threads for m in mem),
    )
    ours = [c for c in children if c.name.startswith("mlbridge") and c.url]
    if target in ("mly", "floor") or not ours:
        return sample
    go = entries = cached = rows = evals = 0.0
    memo: list[tuple[float, float]] = []
    for child in ours:
        metrics = get_text(child.url + "/metrics")
        go += go_runtime_mb(metrics)
        memo_entries = metric_total(metrics, "mlbridge_memo_entries")
        if memo_entries is not None:
            memo.append((memo_entries, metric_total(metrics, "mlbridge_memo_bytes") or 0.0))
        stats = json.loads(get_text(child.url + f"/v1/api/model/{MODEL_ID}/meta/stats"))
        local = stats["runtime"]["datastore"]["tiers"].get("local", {})
        entries += local.get("entries", 0)
        cached += local.get("bytes", 0)
        rows += stats["runtime"]["model"]["rows_evaluated"]
        evals += stats["runtime"]["model"]["evaluations"]
    sample.go_runtime_mb = round(go, 1)
    sample.cache_entries, sample.cache_mb = int(entries), round(cached / 2**20, 1)
    sample.rows_evaluated, sample.evaluations = int(rows), int(evals)
    if memo:
        sample.memo_entries = int(sum(e for e, _ in memo))
        sample.memo_mb = round(sum(b for _, b in memo) / 2**20, 1)
    return sample


def run(s: Settings) -> Report:
    for tool in ("wrk", *(("haproxy", "redis-server") if "mlbridge-x2" in s.targets else ())):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed (make bench-tools installs it from Debian)")
    for binary, make in ((SERVER_BIN, "make go"), (FLOOR_BIN, "make bench-http")):
        if not os.access(binary, os.X_OK):
            raise BenchError(f"{binary.relative_to(REPO)} is not built ({make})")
    report = Report(
        started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        settings={
            "duration_s": s.duration_s,
            "warmup_s": s.warmup_s,
            "connections": s.connections,
            "threads": s.threads,
            "model": MODEL_DIR,
            "cores": os.cpu_count(),
            "nice": os.nice(0),
        },
    )
    with targets(s, report) as up:
        n = 0
        for scenario in SCENARIOS:
            for name, (url, children) in up.items():
                n += 1
                pids = [c.process.pid for c in children]
                result = measure(s, name, scenario, url, pids, n)
                print(format_run(result), flush=True)
                report.runs.append(result)
            for name, (_, children) in up.items():
                report.memory.append(sample_memory(name, scenario, children))
    if {"mlbridge", "mly"} & set(s.targets):
        plain_python(s, report)
    return report


def plain_python(s: Settings, report: Report) -> None:
    """The baselines: the repeated row; the rows our server evaluated, in as many batches."""
    ours = [m for m in report.memory if m.target == "mlbridge" and m.after == SCENARIOS[-1]]
    rows = (ours[0].rows_evaluated or 0) if ours else 0
    batches = (ours[0].evaluations or 0) if ours else 0
    report.python_mb["same"] = round(plain_python_rss_mb(s), 1)
    report.python_work["same"] = "loads the model, evaluates the repeated row"
    report.rss_mb["python"] = report.python_mb["same"]
    if rows:
        report.python_mb["distinct"] = round(plain_python_rss_mb(s, rows, batches), 1)
        report.python_work["distinct"] = (
            f"loads the model, evaluates the repeated row, then {rows:,} distinct rows in "
            f"{len(batch_sizes(rows, batches)):,} batches (what our server evaluated in the run)"
        )


# -- reporting ----------------------------------------------------------------------------


def format_run(r: Run) -> str:
    return (
        f"{r.target:12} {r.scenario:9} {r.requests_per_s:9.0f} req/s  p50 {r.p50_ms:6.2f} ms  "
        f"p99 {r.p99_ms:7.2f} ms  errors {r.non_2xx + r.socket_errors}  "
        f"cores: target {r.target_cores:.2f} wrk {r.wrk_cores:.2f} other {r.other_cores:.2f}"
    )


def ratios(report: Report) -> dict[str, float]:
    rps = {(r.target, r.scenario): r.requests_per_s for r in report.runs}
    out: dict[str, float] = {}
    for scenario in SCENARIOS:
        floor = rps.get(("floor", scenario))
        for target in ("mlbridge", "mly", "mlbridge-x2"):
            value = rps.get((target, scenario))
            if floor and value is not None:
                out[f"{target} {scenario} vs floor"] = value / floor
        if rps.get(("mly", scenario)) and ("mlbridge", scenario) in rps:
            ours, mly = rps[("mlbridge", scenario)], rps[("mly", scenario)]
            out[f"mlbridge {scenario} vs mly"] = ours / mly
    for sample in report.memory:
        python = report.python_mb.get(sample.after)
        if python and sample.target in ("mlbridge", "mly", "mlbridge-x2"):
            out[f"{sample.target} rss {sample.after} vs python"] = sample.peak_rss_mb / python
    return out


def goal_lines(report: Report) -> list[str]:
    r = ratios(report)
    lines = []
    for key, goal in GOALS.items():
        value = r.get(f"mlbridge {key}")
        if value is None:
            continue
        met = value <= goal if key.startswith("rss") else value >= goal
        sign = "≤" if key.startswith("rss") else "≥"
        verdict = "met" if met else "missed"
        lines.append(f"- ours, {key}: **{value:.2f}x** (goal {sign} {goal}x: {verdict})")
    distinct = r.get("mlbridge rss distinct vs python")
    held = [m for m in report.memory if m.target == "mlbridge" and m.after == "distinct"]
    if distinct is not None and held:
        lines.append(
            f"- ours, rss distinct vs python: **{distinct:.2f}x**, with a cache holding "
            f"{held[0].cache_entries:,} rows ({held[0].cache_mb:,.0f} MB accounted) that the "
            "plain Python process does not have"
        )
    return lines


def markdown(report: Report) -> str:
    r = ratios(report)
    s = report.settings
    head = (
        f"wrk -t{s['threads']} -c{s['connections']} -d{s['duration_s']}s (after a "
        f"{s['warmup_s']} s warm-up), HTTP/1.1 keep-alive, loopback, `{s['model']}` as "
        f"`{MODEL_ID}`; {s['cores']} cores, nice {s['nice']}; {report.started}"
    )
    lines = [
        head,
        "",
        "| target | rows | req/s | vs floor | p50 ms | p99 ms | errors | target cores "
        "| other cores |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run_ in report.runs:
        ratio = r.get(f"{run_.target} {run_.scenario} vs floor")
        shown = "1.00x" if run_.target == "floor" else (f"{ratio:.2f}x" if ratio else "")
        lines.append(
            f"| {run_.target} | {run_.scenario} | {run_.requests_per_s:,.0f} | {shown} "
            f"| {run_.p50_ms:.2f} | {run_.p99_ms:.2f} | {run_.non_2xx + run_.socket_errors} "
            f"| {run_.target_cores:.2f} | {run_.other_cores:.2f} |"
        )
    lines += ["", *memory_table(report), "", *goal_lines(report)]
    if "mlbridge distinct vs mly" in r:
        lines.append(f"- ours vs mly, same row: **{r.get('mlbridge same vs mly', 0):.2f}x**")
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def memory_table(report: Report) -> list[str]:
    def mb(value: float | None) -> str:
        return "" if value is None else f"{value:,.0f}"

    lines = [
        "| process(es) | after | peak RSS MB | vs plain Python | RSS now: anon / file MB "
        "| threads | Go runtime MB | cache rows | cache MB | Go memo rows / MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in report.memory:
        python = report.python_mb.get(m.after)
        versus = f"{m.peak_rss_mb / python:.2f}x" if python and m.target != "floor" else ""
        rows = "" if m.cache_entries is None else f"{m.cache_entries:,}"
        memo = "" if m.memo_entries is None else f"{m.memo_entries:,} / {m.memo_mb:,.1f}"
        lines.append(
            f"| {m.target} | {m.after} | {m.peak_rss_mb:,.0f} | {versus} "
            f"| {m.anon_mb:,.0f} / {m.file_mb:,.0f} | {m.threads} | {mb(m.go_runtime_mb)} "
            f"| {rows} | {mb(m.cache_mb)} | {memo} |"
        )
    for scenario, value in report.python_mb.items():
        lines.append(
            f"| python: {report.python_work[scenario]} | {scenario} | {value:,.0f} | 1.00x "
            "| | | | | | |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.bench.http", description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--only", help=f"comma-separated targets (default: all of {', '.join(TARGETS)})"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--models", help=f"mly's fixture models (default: ${MODELS_ENV})")
    args = parser.parse_args(argv)
    models = args.models or os.environ.get(MODELS_ENV)
    if not models or not (Path(models) / MODEL_DIR).is_dir():
        print(f"bench http: no {MODEL_DIR} under --models or ${MODELS_ENV} ({models!r})")
        return 1
    only = tuple(t for t in (args.only or ",".join(TARGETS)).split(",") if t)
    unknown = set(only) - set(TARGETS)
    if unknown:
        print(f"bench http: unknown targets {sorted(unknown)} (known: {', '.join(TARGETS)})")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "http-work"
    shutil.rmtree(work, ignore_errors=True)
    settings = Settings(
        models=Path(models).resolve(),
        out=args.out,
        work=work,
        targets=only,
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
        threads=args.threads,
    )
    try:
        report = run(settings)
    except BenchError as exc:
        print(f"bench http: {exc}")
        return 1
    text = markdown(report)
    (args.out / "http.md").write_text(text, encoding="utf-8")
    document = {**asdict(report), "ratios": ratios(report)}
    (args.out / "http.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
