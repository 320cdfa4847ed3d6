"""One contract, every datastore: memory, Redis (a real server), Aerospike (AEROSPIKE_HOSTS)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge.cache import Breaker, Entry, MemoryStore
from bridge.cache.redis_store import RedisStore
from bridge.config import Backoff, Connection
from support.redis_server import RedisServer

AEROSPIKE_ENV = "AEROSPIKE_HOSTS"


class Backend:
    """A store under test plus how to plant garbage in it."""

    def __init__(self, store: Any, plant_garbage: Callable[[str], None] | None, ttl_ms: int):
        self.store = store
        self.plant_garbage = plant_garbage
        self.short_ttl_ms = ttl_ms


def _memory() -> Iterator[Backend]:
    yield Backend(MemoryStore("contract.memory", 1), None, 50)


def _redis(server: RedisServer) -> Iterator[Backend]:
    store = RedisStore.connect("contract.redis", server.connection(), "test", uuid.uuid4().hex[:8])

    def plant(key: str) -> None:
        server.client().set(store.prefix + key, b"\x00\xffnot json")

    yield Backend(store, plant, 50)
    store.close()


def _aerospike() -> Iterator[Backend]:
    hosts = os.environ.get(AEROSPIKE_ENV)
    if not hosts:
        pytest.skip(f"{AEROSPIKE_ENV} is not set (host[:port],… of an Aerospike server)")
    from bridge.cache.aerospike_store import AerospikeStore

    first = hosts.split(",")[0]
    host, _, port = first.partition(":")
    store = AerospikeStore.connect(
        "contract.aerospike",
        Connection(id="aerospike", hostnames=(host,), port=int(port or 3000)),
        os.environ.get("AEROSPIKE_NAMESPACE", "test"),
        "mlbridge" + uuid.uuid4().hex[:6],
    )
    yield Backend(store, lambda key: store.put_bins([(key, {"junk": 1})], 60_000), 1000)
    store.close()


@pytest.fixture(params=["memory", "redis", pytest.param("aerospike", marks=pytest.mark.aerospike)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        yield from _memory()
    elif request.param == "redis":
        yield from _redis(request.getfixturevalue("redis_server"))
    else:
        yield from _aerospike()


def entry(value: float, dict_hash: int = 42) -> Entry:
    return Entry(dict_hash, {"points": value, "label": "ok"})


def test_put_then_get_returns_the_entries_in_key_order(backend: Backend) -> None:
    store = backend.store
    store.put_many([("a/b", entry(1.5)), ("c/d", entry(2.5))], 60_000)
    found = store.get_many(["c/d", "missing", "a/b"])
    assert found == [entry(2.5), None, entry(1.5)]
    counters = store.counters.snapshot()
    assert counters["hits"] == 2 and counters["misses"] == 1 and counters["writes"] == 2


def test_a_missing_key_is_none_and_empty_input_is_empty(backend: Backend) -> None:
    assert backend.store.get_many(["never-written"]) == [None]
    assert backend.store.get_many([]) == []


def test_a_later_put_overwrites(backend: Backend) -> None:
    backend.store.put_many([("k", entry(1.0))], 60_000)
    backend.store.put_many([("k", entry(2.0, dict_hash=7))], 60_000)
    assert backend.store.get_many(["k"]) == [entry(2.0, dict_hash=7)]


def test_entries_expire_after_their_ttl(backend: Backend) -> None:
    backend.store.put_many([("short", entry(1.0))], backend.short_ttl_ms)
    backend.store.put_many([("long", entry(2.0))], 60_000)
    time.sleep(backend.short_ttl_ms / 1000 * 2 + 0.05)
    assert backend.store.get_many(["short", "long"]) == [None, entry(2.0)]


def test_unicode_keys_and_values_round_trip(backend: Backend) -> None:
    e = Entry(-5, {"text": "Vulkà Bianco — 🍷", "scores": [1, 2.5]})
    backend.store.put_many([("Sicily & Sardinia/Vulkà", e)], 60_000)
    assert backend.store.get_many(["Sicily & Sardinia/Vulkà"]) == [e]


def test_a_corrupt_stored_value_is_a_counted_miss(backend: Backend) -> None:
    if backend.plant_garbage is None:
        pytest.skip("the memory tier stores decoded entries: nothing to corrupt")
    backend.plant_garbage("bad")
    assert backend.store.get_many(["bad"]) == [None]
    assert backend.store.counters.snapshot()["corrupt"] == 1
    backend.store.put_many([("bad", entry(3.0))], 60_000)  # and it can be overwritten
    assert backend.store.get_many(["bad"]) == [entry(3.0)]


def test_many_keys_in_one_call(backend: Backend) -> None:
    items = [(f"k{i}", entry(float(i))) for i in range(500)]
    backend.store.put_many(items, 60_000)
    assert backend.store.get_many([k for k, _ in items]) == [e for _, e in items]


def test_behind_a_breaker_the_contract_holds(backend: Backend) -> None:
    breaker = Breaker(backend.store, Backoff())
    breaker.put_many([("b", entry(4.0))], 60_000)
    assert breaker.get_many(["b", "nope"]) == [entry(4.0), None]
    assert not breaker.is_open
