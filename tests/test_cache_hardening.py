"""Remote tiers under hostile servers and values (issue #14, items 5, 7 and 8): a slow server
costs at most the connection's total deadline; a foreign or unreadable value is that key's
corrupt miss; only the connection failing takes the tier down.

mly's ``string_lookups_int_model`` is served with a Redis L1 and no memory tier, so every call
reads Redis: ``{"sa": "a", "sl": "a"}`` → ``{"expand": 25}``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.cache import Breaker, Entry, Shape, decode
from bridge.cache.redis_store import RedisStore
from bridge.config import Backoff, Connection, Timeout
from bridge.mly import MlyLoader
from bridge.mly.service import ModelService
from bridge.runtime import Runtime
from support.bounded import bounded
from support.mly import write_config
from support.redis_server import RedisServer
from support.trickle_server import ANSWER, TrickleServer

ROW = {"sa": "a", "sl": "a"}
EXPECTED = {"expand": 25}
TOTAL_MS = 300


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    with TrickleServer(delay_s=0.05) as server:
        yield server


def redis_config(directory: Path, mly_models: Path, port: int, **extra: str) -> Path:
    inputs = extra.get("inputs", "")
    return write_config(
        directory,
        f"""
Models:
  - {{ID: sli, URL: {mly_models}/string_lookups_int_model, DataStore: l1 {inputs}}}
Datastores: [{{ID: l1, Connection: r, Namespace: hard, Dataset: {uuid.uuid4().hex[:8]}}}]
Connections:
  - ID: r
    Kind: redis
    Hostnames: 127.0.0.1
    Port: {port}
    Timeout: {{Connection: 500, Socket: 400, Total: {TOTAL_MS}}}
""",
    )


def service(mly_loader: MlyLoader) -> ModelService:
    return mly_loader.services["sli"]


def l1(svc: ModelService) -> Breaker:
    assert svc.store is not None and svc.store.l1 is not None
    store = svc.store.l1.store
    assert isinstance(store, Breaker)
    return store


def redis_key(svc: ModelService, row: dict[str, Any]) -> str:
    redis_store = l1(svc).store
    assert isinstance(redis_store, RedisStore)
    return redis_store.prefix + svc.keys.prepare(row)[1]


def dict_hash(svc: ModelService) -> int:
    assert svc.dictionary is not None
    return svc.dictionary.hash


# -- item 5: a server that trickles ---------------------------------------------------------


def test_a_trickling_server_costs_one_total_deadline_and_trips_the_breaker(
    trickle: TrickleServer,
) -> None:
    assert len(ANSWER) * trickle.delay_s > 5  # what an unbounded read would wait
    connection = Connection(
        id="slow",
        hostnames=("127.0.0.1",),
        port=trickle.port,
        kind="redis",
        timeout=Timeout(connection_ms=500, socket_ms=400, total_ms=TOTAL_MS),
    )
    store = RedisStore.connect("slow.l1", connection, "ns", "ds")
    breaker = Breaker(store, Backoff(initial_ms=60_000))
    try:
        started = time.monotonic()
        assert bounded(lambda: breaker.get_many(["k1", "k2"]), timeout=5) == [None, None]
        took = time.monotonic() - started
        assert trickle.mgets == 1
        assert took < 4 * TOTAL_MS / 1000, f"{took:.2f} s"
        assert breaker.is_open and "Timeout" in breaker.last_error
        assert store.counters.errors == 1
        assert breaker.get_many(["k1"]) == [None]  # down now: not asked again
        assert trickle.mgets == 1 and store.counters.down == 1
    finally:
        store.close()


def test_a_prediction_does_not_wait_for_a_trickling_tier(
    runtime: Runtime,
    mly_loader: MlyLoader,
    mly_models: Path,
    tmp_path: Path,
    trickle: TrickleServer,
) -> None:
    runtime.load_from_file("mly", [str(redis_config(tmp_path, mly_models, trickle.port))])
    started = time.monotonic()
    assert bounded(lambda: runtime.call("sli.eval", ROW), timeout=8) == EXPECTED
    assert time.monotonic() - started < 4  # the model plus one total deadline, not 10 s
    assert l1(service(mly_loader)).is_open


# -- item 7: entries that are not this model's outputs --------------------------------------


@pytest.mark.parametrize(
    "planted",
    [
        {"expand": "ninety"},
        {"evil": 1},
        {"expand": 1e999},
        {"expand": 25, "evil": 1},
        {"expand": [25]},
        {"expand": True},
    ],
    ids=["string", "foreign-name", "infinite", "extra-output", "list", "bool"],
)
def test_an_entry_with_foreign_outputs_is_a_corrupt_miss(
    runtime: Runtime, serve: Serve, redis_server: RedisServer, planted: dict[str, Any]
) -> None:
    svc = serve()
    data = json.dumps({"h": dict_hash(svc), "v": planted}).encode()  # the right hash
    redis_server.client().set(redis_key(svc, ROW), data)
    assert runtime.call("sli.eval", ROW) == EXPECTED
    assert runtime.call("sli.process_batch", [ROW]) == [EXPECTED]
    counters = l1(svc).counters
    assert counters.corrupt >= 1
    assert not l1(svc).is_open
    svc.store.flush()  # type: ignore[union-attr]
    # The model's answer replaced the foreign entry.
    stored = redis_server.client().get(redis_key(svc, ROW))
    assert isinstance(stored, bytes) and decode(stored).values == EXPECTED


def test_shape_accepts_what_the_model_outputs_only() -> None:
    shape = Shape({"p": ("float", True), "v": ("int", False), "s": ("string", True)})
    assert shape.fits({"p": 0.5, "v": [[1, 2], [3]], "s": "x"})
    assert shape.fits({"p": 1, "v": [], "s": ""})  # JSON writes 1.0 as 1 in other encoders
    for values in (
        {"p": float("nan"), "v": [1], "s": "x"},
        {"p": 0.5, "v": [1.5], "s": "x"},
        {"p": 0.5, "v": 1, "s": "x"},
        {"p": 0.5, "v": [1], "s": b"x"},
        {"p": 0.5, "v": [1]},
        {"p": 0.5, "v": [1], "s": "x", "t": 1},
        {"p": True, "v": [1], "s": "x"},
    ):
        assert not shape.fits(values), values


# -- item 8: one bad value or key is that key's miss ----------------------------------------


Serve = Callable[..., ModelService]


@pytest.fixture
def serve(
    runtime: Runtime,
    mly_loader: MlyLoader,
    mly_models: Path,
    tmp_path: Path,
    redis_server: RedisServer,
) -> Serve:
    """``serve(inputs="")``: ``sli`` loaded into ``runtime`` with the module's Redis as L1."""

    def load(inputs: str = "") -> ModelService:
        config = redis_config(tmp_path, mly_models, redis_server.port, inputs=inputs)
        runtime.load_from_file("mly", [str(config)])
        return service(mly_loader)

    return load


def test_a_deeply_nested_value_is_one_corrupt_miss_and_the_tier_stays_up(
    runtime: Runtime, serve: Serve, redis_server: RedisServer
) -> None:
    svc = serve()
    other = {"sa": "b", "sl": "a"}
    client = redis_server.client()
    client.set(redis_key(svc, ROW), b"[" * 100_000 + b"]" * 100_000)
    good = {"h": dict_hash(svc), "v": {"expand": 7}}  # a stored value only the cache knows
    client.set(redis_key(svc, other), json.dumps(good).encode())
    assert runtime.call("sli.process_batch", [ROW, other]) == [EXPECTED, {"expand": 7}]
    assert not l1(svc).is_open
    assert l1(svc).counters.corrupt == 1 and l1(svc).counters.errors == 0
    assert svc.store.counters.l1_hits == 1  # type: ignore[union-attr]


def test_a_key_with_a_lone_surrogate_does_not_take_the_tier_down(
    runtime: Runtime, serve: Serve
) -> None:
    svc = serve(", Inputs: [{Name: sa, Wildcard: true}]")
    assert svc.keys.prepare({"sa": "\ud800", "sl": "a"})[1].startswith("\ud800")
    with pytest.raises(Exception, match=r"not string values|surrogate"):
        runtime.call("sli.eval", {"sa": "\ud800", "sl": "a"})  # the model refuses the text
    assert not l1(svc).is_open and l1(svc).counters.errors == 0
    assert runtime.call("sli.eval", ROW) == EXPECTED  # evaluated and stored
    svc.store.flush()  # type: ignore[union-attr]
    assert runtime.call("sli.eval", ROW) == EXPECTED
    assert svc.store.counters.l1_hits == 1  # type: ignore[union-attr]


def test_redis_stores_a_key_with_a_lone_surrogate_as_its_own_key(
    redis_server: RedisServer,
) -> None:
    store = RedisStore.connect("surrogate", redis_server.connection(), "ns", uuid.uuid4().hex)
    try:
        store.put_many([("\ud800x", Entry(1, {"y": 1})), ("ok", Entry(1, {"y": 2}))], 60_000)
        assert store.get_many(["\ud800x", "\udc00x", "ok"]) == [
            Entry(1, {"y": 1}),
            None,
            Entry(1, {"y": 2}),
        ]
    finally:
        store.close()
