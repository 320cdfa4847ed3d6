"""The memory tier: bounded by its byte accounting, honest about real memory, TTL and LRU."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from bridge.cache import Entry, MemoryStore
from bridge.cache.entry import encode
from bridge.cache.memory import ENTRY_OVERHEAD, FLOAT_BYTES, entry_cost, json_size
from bridge.config import ConfigError, parse_config


def row_entry(i: int) -> tuple[str, Entry]:
    key = f"Italy/Sicily & Sardinia/White Blend/winery {i}/{i % 90}.00"
    return key, Entry(-6711061594994902315, {"points": 80.0 + i % 17 + 0.123456})


def test_accounted_bytes_never_exceed_size_after_inserting_ten_times_capacity() -> None:
    store = MemoryStore("bound", 0.25)
    key, entry = row_entry(0)
    per_entry = entry_cost(key, entry)
    capacity_entries = store.capacity_bytes // per_entry
    for start in range(0, 10 * capacity_entries, 100):
        store.put_many([row_entry(i) for i in range(start, start + 100)], 60_000)
        assert store.accounted_bytes <= store.capacity_bytes
    assert store.counters.snapshot()["evictions"] >= 9 * capacity_entries - 100
    assert len(store) <= capacity_entries + 1


def test_real_memory_stays_within_one_and_a_half_times_size() -> None:
    size_mb = 0.5
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        store = MemoryStore("tracemalloc", size_mb)
        capacity = store.capacity_bytes
        key, entry = row_entry(0)
        n = 10 * capacity // entry_cost(key, entry)
        for start in range(0, n, 500):
            store.put_many([row_entry(i) for i in range(start, start + 500)], 60_000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert store.accounted_bytes <= capacity
    print(f"tracemalloc growth {growth} bytes, accounted {store.accounted_bytes}, size {capacity}")
    assert growth <= 1.5 * capacity, f"grew {growth} bytes for a {capacity}-byte cache"
    # and the accounting is not wildly pessimistic either (it would waste the budget)
    assert growth >= 0.5 * store.accounted_bytes


@pytest.mark.parametrize(
    "value",
    [
        0,
        -12,
        2**63,
        "",
        "points",
        "Ünïcode",
        True,
        False,
        None,
        [],
        {},
        [1, [2, "x"]],
        {"a": 1, "bb": [True, None], "c": {"d": "e"}},
    ],
)
def test_the_counted_json_size_is_the_encoded_length(value: object) -> None:
    assert json_size(value) == len(encode(Entry(0, {"v": value}))) - len('{"h":0,"v":{"v":}}')


@pytest.mark.parametrize("value", [0.0, 1.5, -2.2250738585072014e-308, 1e300, 80.123456])
def test_a_float_counts_at_least_its_encoded_length(value: float) -> None:
    assert json_size(value) == FLOAT_BYTES >= len(encode(Entry(0, {"v": value}))) - 18


def test_an_entry_costs_its_key_its_encoded_value_and_the_overhead() -> None:
    key, entry = "a/b", Entry(-5, {"label": "ok", "n": 7})
    assert entry_cost(key, entry) == len(key) + len(encode(entry)) + ENTRY_OVERHEAD


def test_entries_expire_with_their_ttl_and_are_counted() -> None:
    now = [100.0]
    store = MemoryStore("ttl", 1, clock=lambda: now[0])
    store.put_many([("a", Entry(1, {"x": 1}))], 1_000)
    assert store.get_many(["a"]) == [Entry(1, {"x": 1})]
    now[0] += 1.001
    assert store.get_many(["a"]) == [None]
    assert store.counters.snapshot()["expired"] == 1
    assert len(store) == 0


def test_least_recently_used_goes_first() -> None:
    store = MemoryStore("lru", 0.0015)  # ~1.5 KiB: two small entries fit, not three
    a, b, c = (Entry(1, {"v": i}) for i in range(3))
    store.put_many([("a", a), ("b", b)], 60_000)
    store.get_many(["a"])
    store.put_many([("c", c)], 60_000)
    assert store.get_many(["a", "b", "c"]) == [a, None, c]


@pytest.mark.parametrize("size", ["0", "-1"])
def test_a_size_of_zero_or_less_is_a_configuration_error(size: str) -> None:
    text = f"""
Models: [{{ID: m, URL: /nowhere, DataStore: d}}]
Datastores: [{{ID: d, Cache: {{SizeMB: {size}}}}}]
"""
    with pytest.raises(ConfigError, match=r"Datastores\[0\]\.Cache\.SizeMB: must be > 0"):
        parse_config(text)
    with pytest.raises(ValueError):
        MemoryStore("direct", float(size))
