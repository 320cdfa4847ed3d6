"""mlbridge-server's operational side from outside (#12), on the built binary (``make go``).

* Redis killed under load: no request fails, the L1 breaker opens (seen in ``/metrics``), and
  hits from Redis resume once it is back.
* SIGTERM under load: every request the server accepted is answered 200, it exits 0 within
  ``Endpoint.WriteTimeoutMs``, and every answered row's background cache write reached Redis.
* A broken model version (hot reload) under load: health 0 and a reload failure in /metrics,
  readiness 200, no request fails; a good version brings health back to 1.
* schemathesis against the OpenAPI document the server serves: every operation, bounded
  examples; responses must match the document (status codes, media types, schemas).
"""

from __future__ import annotations

import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from support.mlbridge_server import MlbridgeServer, require_mlbridge_server
from support.mly import swap_in, write_config
from support.redis_server import RedisServer

pytestmark = pytest.mark.slow

WRITE_TIMEOUT_MS = 4000


def server_config(directory: Path, mly_models: Path, redis_port: int, dataset: str) -> Path:
    """sli (vocabulary keys) and vec (a wildcard text: every text its own key), cached in Redis
    only (no local tier, so every hit is a Redis hit)."""
    return write_config(
        directory,
        f"""
Endpoint: {{Port: 0, Host: 127.0.0.1, WriteTimeoutMs: {WRITE_TIMEOUT_MS}}}
Models:
  - {{ID: sli, URL: {mly_models}/string_lookups_int_model, DataStore: shared}}
  - ID: vec
    URL: {mly_models}/vectorization_int_model
    DataStore: shared
    Inputs: [{{Name: tv, Wildcard: true}}]
Datastores:
  - {{ID: shared, Connection: r, Namespace: ns, Dataset: {dataset}}}
Connections:
  - {{ID: r, Kind: redis, Hostnames: 127.0.0.1, Port: {redis_port}, BackoffMs: 200,
     MaxBackoffMs: 400, Timeout: {{Connection: 200, Socket: 200, Total: 200}}}}
""",
    )


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of the server's Prometheus scrape (0 when the series is absent)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    want = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if re.match(rf"{name}(\{{|$)", series) and all(w in series for w in want):
            return float(value)
    return 0.0


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class Load:
    """Client threads posting rows until stopped; every answer is recorded."""

    def __init__(self, url: str, model: str, row: Callable[[str], dict[str, Any]], threads: int):
        self.url, self.model, self.row = url, model, row
        self.ok: list[tuple[float, float]] = []  # (sent, answered) of each 200
        self.failed: list[str] = []  # answers other than 200
        self.transport: list[str] = []  # no answer (a connection refused or reset)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _run(self) -> None:
        # A new connection per request: a connection the draining server closes was idle.
        with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as c:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    r = c.post(f"{self.url}/v1/api/model/{self.model}/eval", json=self.row(""))
                except httpx.TransportError as e:
                    with self._lock:
                        self.transport.append(repr(e))
                    if self._stop.wait(0.01):
                        return
                    continue
                with self._lock:
                    if r.status_code == 200 and r.json()["status"] == "ok":
                        self.ok.append((sent, time.monotonic()))
                    else:
                        self.failed.append(f"{r.status_code} {r.text[:200]}")


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(
    redis: RedisServer, mly_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlbridgeServer]:
    require_mlbridge_server()
    config = server_config(tmp_path_factory.mktemp("ops"), mly_models, redis.port, "shared")
    with MlbridgeServer(config) as s:
        yield s


def test_redis_killed_under_load_fails_no_request_and_hits_resume(
    server: MlbridgeServer, redis: RedisServer
) -> None:
    words = ["a", "b", "c", "zz"]  # zz is out of vocabulary: the [UNK] key
    n = iter(range(10**9))

    def row(_: str) -> dict[str, Any]:
        i = next(n)
        # With a cache_key that is not the server's key (a disagreement it counts), so that
        # every request reaches the runtime and its Redis tier: the server's memo keeps no
        # answer to such a request.
        return {"sa": words[i % 4], "sl": words[(i // 4) % 4], "cache_key": "load"}

    url = server.url
    with Load(url, "sli", row, threads=4) as load:
        wait_for("hits from Redis", lambda: metric(url, "mlbridge_cache_hits_total", tier="l1") > 0)
        redis.kill()
        wait_for(
            "the L1 breaker open",
            lambda: metric(url, "mlbridge_cache_breaker_open", datastore="shared", tier="l1") == 1,
        )
        down = metric(url, "mlbridge_cache_tier_down_total", datastore="shared", tier="l1")
        answered = len(load.ok)
        time.sleep(1.0)  # serving with the tier down: the model answers every row
        assert len(load.ok) > answered
        assert metric(url, "mlbridge_cache_tier_down_total", datastore="shared", tier="l1") > down

        redis.start()  # same port, empty
        hits = metric(url, "mlbridge_cache_hits_total", datastore="shared", tier="l1")
        wait_for(
            "hits from the restarted Redis",
            lambda: metric(url, "mlbridge_cache_hits_total", datastore="shared", tier="l1") > hits,
        )
        assert metric(url, "mlbridge_cache_breaker_open", datastore="shared", tier="l1") == 0
    assert load.failed == [] and load.transport == []
    assert len(load.ok) > 50


def test_sigterm_under_load_answers_every_accepted_request_and_flushes_writes(
    mly_models: Path, tmp_path: Path
) -> None:
    require_mlbridge_server()
    with RedisServer() as redis:
        config = server_config(tmp_path, mly_models, redis.port, "drain")
        server = MlbridgeServer(config, "vec")
        server.start()
        try:
            assert httpx.get(f"{server.url}/v1/api/ready").status_code == 200
            run = uuid.uuid4().hex

            def row(_: str) -> dict[str, Any]:  # every row a new key: one write each
                return {"tv": f"a b {run} {uuid.uuid4().hex}", "sl": "a"}

            with Load(server.url, "vec", row, threads=6) as load:
                wait_for("answers", lambda: len(load.ok) >= 30)
                assert server.process is not None
                signalled = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                code = server.process.wait(timeout=WRITE_TIMEOUT_MS / 1000 + 10)
                exited = time.monotonic() - signalled
                load.stop()
        finally:
            server.stop()
        output = b"".join(server.log).decode(errors="replace")
        assert code == 0, output[-2000:]
        assert exited < WRITE_TIMEOUT_MS / 1000, f"exit {exited:.2f} s after SIGTERM"
        assert load.failed == [], load.failed[:5]
        in_flight = [1 for sent, answered in load.ok if sent < signalled < answered]
        assert in_flight, "no request was in flight at SIGTERM (the test proved nothing)"
        # Every answered row was a new key whose write was queued in the background: the drain
        # flushed them all before exiting (no more keys either: nothing else was evaluated).
        assert redis.client().dbsize() == len(load.ok)


def test_a_broken_version_shows_in_health_and_metrics_while_the_old_one_serves(
    mly_models: Path, tmp_path: Path
) -> None:
    """Hot reload seen from outside: a version that fails to load is health 0 and a reload
    failure in /metrics, readiness stays 200, and no request fails; a good one brings health 1."""
    require_mlbridge_server()
    url = tmp_path / "sli"
    shutil.copytree(mly_models / "string_lookups_int_model", url)
    config = write_config(
        tmp_path,
        f"""
Endpoint: {{Port: 0, Host: 127.0.0.1}}
Models: [{{ID: sli, URL: {url}, ReloadIntervalMs: 300}}]
""",
    )
    broken = tmp_path / "broken"
    shutil.copytree(mly_models / "string_lookups_int_model", broken)
    (broken / "saved_model.pb").write_bytes(b"not a graph")

    def health() -> dict[str, int]:
        reply = httpx.get(f"{base}/v1/api/health", timeout=10)
        assert reply.status_code == 200
        answer: dict[str, int] = reply.json()
        return answer

    with MlbridgeServer(config) as server:
        base = server.url
        assert health() == {"sli": 1}
        with Load(base, "sli", lambda _: {"sa": "a", "sl": "b"}, threads=2) as load:
            swap_in(broken, url)
            wait_for("health 0", lambda: health() == {"sli": 0})
            assert httpx.get(f"{base}/v1/api/ready").status_code == 200
            assert metric(base, "mlbridge_model_health", model="sli") == 0
            wait_for(
                "the failure retried at the next poll",
                lambda: metric(base, "mlbridge_model_reload_failures_total", model="sli") >= 2,
            )
            swap_in(mly_models / "string_lookups_float_model", url)
            wait_for("health 1", lambda: health() == {"sli": 1})
            assert metric(base, "mlbridge_model_reloads_total", model="sli") == 1
            answered = len(load.ok)
            wait_for("answers after the swap", lambda: len(load.ok) > answered + 5)
        assert load.failed == [] and load.transport == []


def sli_server(directory: Path, mly_models: Path) -> MlbridgeServer:
    """An unstarted server of string_lookups_int_model, no datastore."""
    config = write_config(
        directory,
        f"""
Endpoint: {{Port: 0, Host: 127.0.0.1}}
Models: [{{ID: sli, URL: {mly_models}/string_lookups_int_model}}]
""",
    )
    return MlbridgeServer(config)


def start_in_background(
    server: MlbridgeServer,
) -> tuple[MlbridgeServer, threading.Thread, list[RuntimeError]]:
    """Starts ``server`` in a thread (its output is read meanwhile); a start that fails ("did
    not start": it exited before listening) lands in the returned list."""
    failed: list[RuntimeError] = []

    def start() -> None:
        try:
            server.start()
        except RuntimeError as e:
            failed.append(e)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    return server, thread, failed


def test_readiness_is_503_while_the_models_load_then_200(mly_models: Path, tmp_path: Path) -> None:
    """The port opens before the models load: a load balancer sees 503, not a refused
    connection, until every model is loaded and warmed."""
    require_mlbridge_server()
    server, starting, _ = start_in_background(sli_server(tmp_path, mly_models))
    try:
        loading = re.compile(rb"loading the models; (http://\S+)/v1/api/ready")
        found: list[bytes] = []

        def announced() -> bool:
            found.extend(m.group(1) for line in list(server.log) if (m := loading.search(line)))
            return bool(found) or not starting.is_alive()

        wait_for("the loading line", announced, timeout=60)
        assert found, b"".join(server.log)[-2000:]
        url = found[0].decode()
        probes: list[int] = []
        while starting.is_alive():
            reply = httpx.get(f"{url}/v1/api/ready", timeout=10)
            probes.append(reply.status_code)
            if reply.status_code == 503:
                assert reply.json()["status"] == "error"
            time.sleep(0.02)
        starting.join()
        assert server.url == url
        assert httpx.get(f"{url}/v1/api/ready").status_code == 200
        assert probes and probes[0] == 503, probes  # TensorFlow alone takes seconds to import
        first_ok = probes.index(200) if 200 in probes else len(probes)
        assert set(probes[:first_ok]) == {503} and set(probes[first_ok:]) <= {200}, probes
        reply = httpx.post(f"{url}/v1/api/model/sli/eval", json={"sa": "a", "sl": "a"})
        assert reply.json()["data"] == {"expand": 25}
    finally:
        starting.join(timeout=120)
        server.close()


def test_sigterm_while_loading_stops_at_once_with_0(mly_models: Path, tmp_path: Path) -> None:
    require_mlbridge_server()
    server, starting, refused = start_in_background(sli_server(tmp_path, mly_models))
    try:
        wait_for(
            "the loading line",
            lambda: any(b"loading the models" in line for line in list(server.log)),
            timeout=60,
        )
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        output = b"".join(server.log).decode(errors="replace")
        assert code == 0, output[-2000:]
        assert "while loading the models: stopping" in output
        assert "listening on" not in output
        starting.join(timeout=30)
        assert refused and not server.url
    finally:
        starting.join(timeout=30)
        server.close()


# The repository's document (the Go test checks that the server serves exactly this file).
# schemathesis' pytest integration (schemathesis.pytest.from_fixture) does not run under
# pytest 9, so each operation is one parametrized test driving hypothesis directly.
OPENAPI = Path(__file__).resolve().parents[1] / "go_host" / "server" / "openapi.json"
Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def operations() -> list[Operation]:
    out = []
    for result in schemathesis.openapi.from_path(OPENAPI).get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"openapi.json: {result.err()}")
        out.append(result.ok())
    return out


OPERATIONS = operations()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_every_operation_answers_as_the_openapi_document_says(
    server: MlbridgeServer, operation: Operation
) -> None:
    # An eval body's fields are the model's (discovered at /meta/config): the document can only
    # say "an object of scalars or arrays", so a valid-looking body may rightly be a 400.
    excluded: list[schemathesis.CheckFunction] = (
        [positive_data_acceptance] if operation.path.endswith("/eval") else []
    )
    cases = operation.as_strategy()
    if "{id}" in operation.path:  # random IDs are 404s: half the cases ask a served model

        def served(case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
            case.path_parameters = {**(case.path_parameters or {}), "id": "sli"}
            return case

        cases = st.one_of(cases, cases.map(served))

    @given(case=cases)
    @settings(
        max_examples=16,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=server.url, excluded_checks=excluded)

    answers_as_documented()
