"""Tiered datastore with two real Redis servers as L1 and L2: copies, TTLs, ReadOnly, and a
server killed mid-test (predictions keep coming, the breaker opens, then closes)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from bridge.cache import Breaker, Entry, MemoryStore, Tier, TieredStore
from bridge.cache.memory import ENTRY_OVERHEAD
from bridge.cache.redis_store import RedisStore
from bridge.config import Backoff, Timeout
from support.redis_server import RedisServer

HASH = 99
Servers = tuple[RedisServer, RedisServer]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[RedisServer, RedisServer]]:
    with RedisServer() as l1, RedisServer() as l2:
        yield l1, l2


def redis_tier(
    name: str,
    server: RedisServer,
    ttl_ms: int = 60_000,
    read_only: bool = False,
    backoff_ms: float = 200,
) -> Tier:
    connection = server.connection(Timeout(connection_ms=300, socket_ms=300))
    store = RedisStore.connect(name, connection, "t", uuid.uuid4().hex[:8])
    return Tier(
        name.split(".")[-1],
        Breaker(store, Backoff(initial_ms=backoff_ms, max_ms=1_000)),
        ttl_ms,
        read_only,
    )


def make_store(
    servers: tuple[RedisServer, RedisServer],
    *,
    l1_ttl: int = 60_000,
    l2_ttl: int = 60_000,
    l1_read_only: bool = False,
    local: bool = True,
) -> TieredStore:
    l1_server, l2_server = servers
    return TieredStore(
        "tiered",
        local=Tier("local", MemoryStore("tiered.local", 1), 60_000) if local else None,
        l1=redis_tier("tiered.l1", l1_server, l1_ttl, l1_read_only),
        l2=redis_tier("tiered.l2", l2_server, l2_ttl),
    )


def e(v: float, h: int = HASH) -> Entry:
    return Entry(h, {"points": v})


def test_a_write_reaches_every_tier_and_reads_come_from_memory_first(servers: Servers) -> None:
    store = make_store(servers)
    store.put_many([("k", e(1.0))])
    store.flush()
    assert store.l1 and store.l2 and store.local
    assert store.l1.store.get_many(["k"]) == [e(1.0)]
    assert store.l2.store.get_many(["k"]) == [e(1.0)]
    assert store.get_many(["k"], HASH) == [e(1.0)]
    snap = store.snapshot()
    assert snap["local_hits"] == 1 and snap["l1_hits"] == 0 and snap["writes"] == 1
    store.close()


def test_an_l2_hit_is_copied_to_l1_and_to_memory(servers: Servers) -> None:
    store = make_store(servers)
    assert store.l1 and store.l2 and store.local
    store.l2.store.put_many([("only-l2", e(2.0))], 60_000)
    assert store.get_many(["only-l2"], HASH) == [e(2.0)]
    store.flush()
    assert store.l1.store.get_many(["only-l2"]) == [e(2.0)]
    assert store.local.store.get_many(["only-l2"]) == [e(2.0)]
    snap = store.snapshot()
    assert snap["l2_hits"] == 1 and snap["l1_copies"] == 1
    assert store.get_many(["only-l2"], HASH) == [e(2.0)]
    assert store.snapshot()["local_hits"] == 1
    store.close()


def test_an_l1_hit_is_copied_to_memory(servers: Servers) -> None:
    store = make_store(servers)
    assert store.l1
    store.l1.store.put_many([("l1", e(3.0))], 60_000)
    assert store.get_many(["l1", "none"], HASH) == [e(3.0), None]
    assert store.get_many(["l1"], HASH) == [e(3.0)]
    snap = store.snapshot()
    assert (snap["l1_hits"], snap["local_hits"], snap["misses"]) == (1, 1, 1)
    store.close()


def test_l2_keeps_its_own_ttl(servers: Servers) -> None:
    # mly writes L2 with L1's TTL; here a short L1 TTL does not shorten L2's.
    store = make_store(servers, l1_ttl=100, l2_ttl=60_000, local=False)
    store.put_many([("ttl", e(4.0))])
    store.flush()
    time.sleep(0.3)
    assert store.l1 and store.l2
    assert store.l1.store.get_many(["ttl"]) == [None]
    assert store.l2.store.get_many(["ttl"]) == [e(4.0)]
    store.close()


def test_a_read_only_l1_is_never_written(servers: Servers) -> None:
    store = make_store(servers, l1_read_only=True)
    assert store.l1 and store.l2
    store.put_many([("ro", e(5.0))])
    store.l2.store.put_many([("ro-l2", e(6.0))], 60_000)
    assert store.get_many(["ro-l2"], HASH) == [e(6.0)]
    store.flush()
    assert store.l1.store.get_many(["ro", "ro-l2"]) == [None, None]
    assert store.l2.store.get_many(["ro"]) == [e(5.0)]
    assert store.snapshot()["l1_copies"] == 0
    store.close()


def test_an_entry_under_another_dictionary_hash_is_a_miss(servers: Servers) -> None:
    store = make_store(servers)
    store.put_many([("h", e(7.0, h=1))])
    store.flush()
    assert store.get_many(["h"], 2) == [None]
    snap = store.snapshot()
    assert snap["hash_mismatches"] == 3 and snap["misses"] == 1  # memory, L1 and L2
    store.close()


def test_garbage_bytes_in_redis_are_a_counted_miss(servers: Servers) -> None:
    store = make_store(servers, local=False)
    assert store.l1
    l1 = store.l1.store
    assert isinstance(l1, Breaker) and isinstance(l1.store, RedisStore)
    servers[0].client().set(l1.store.prefix + "junk", b"\x89PNG garbage")
    assert store.get_many(["junk"], HASH) == [None]
    assert store.snapshot()["corrupt"] == 1
    store.close()


def test_killing_l1_opens_the_breaker_and_a_restart_closes_it(servers: Servers) -> None:
    l1_server, _ = servers
    store = make_store(servers, local=False)
    assert store.l1
    breaker = store.l1.store
    assert isinstance(breaker, Breaker)
    store.put_many([("alive", e(8.0))])
    store.flush()
    l1_server.kill()
    try:
        # Reads keep answering: L1 is a miss, L2 still has the entry.
        for _ in range(20):
            assert store.get_many(["alive"], HASH) == [e(8.0)]
        assert breaker.is_open
        snap = store.snapshot()
        assert snap["tiers"]["l1"]["errors"] >= 1
        assert snap["tiers"]["l1"]["down"] >= 1  # later calls skipped the dead server
        store.put_many([("while-down", e(9.0))])  # writes are dropped, not raised
        store.flush()
    finally:
        l1_server.start()
    deadline = time.monotonic() + 5
    while breaker.is_open and time.monotonic() < deadline:
        store.get_many(["probe"], HASH)
        time.sleep(0.05)
    assert not breaker.is_open
    store.put_many([("after", e(10.0))])
    store.flush()
    assert breaker.get_many(["after"]) == [e(10.0)]
    store.close()


def test_get_one_counts_each_lookup_once_per_tier() -> None:
    store = TieredStore("one", local=Tier("local", MemoryStore("one.local", 1), 60_000))
    assert store.get_one("k", HASH) is None
    store.put_many([("k", e(1.0))])
    assert store.get_one("k", HASH) == e(1.0)
    assert store.get_one("k", HASH + 1) is None  # written under another dictionary
    snap = store.snapshot()
    assert snap["tiers"]["local"]["misses"] == 1 and snap["tiers"]["local"]["hits"] == 2
    assert snap["local_hits"] == 1 and snap["hash_mismatches"] == 1 and snap["misses"] == 2
    store.close()


def test_the_snapshot_says_what_the_memory_tier_holds() -> None:
    local = MemoryStore("held.local", 1)
    store = TieredStore("held", local=Tier("local", local, 60_000))
    assert store.snapshot()["tiers"]["local"]["entries"] == 0
    store.put_many([("a", e(1.0)), ("b", e(2.0))])
    held = store.snapshot()["tiers"]["local"]
    assert held["entries"] == 2
    assert held["bytes"] == local.accounted_bytes > 2 * ENTRY_OVERHEAD
    store.close()
