"""The in-process tier: a ``cachetools.LRUCache`` bounded by bytes, with a TTL per entry.

Entries are kept decoded (a hit costs no JSON parsing: this tier is the one that must be
cheaper than the model by two orders of magnitude); callers copy the values they hand out.

Size accounting is our own and deliberately honest: an entry costs its key and its value's
size as compact JSON in bytes plus :data:`ENTRY_OVERHEAD`, the measured cost of the Python
objects and the LRU bookkeeping around them. Without that term a cache of small entries would
use several times its ``SizeMB`` (the tracemalloc test checks the bound). The JSON size is
counted, not encoded (encoding every fresh entry was a tenth of a batch's cost): a float counts
its longest form, 24 bytes, a string its UTF-8 bytes and quotes, escapes aside.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from cachetools import LRUCache

from bridge.cache.counters import StoreCounters
from bridge.cache.entry import Entry

ENTRY_OVERHEAD = 560
"""Bytes per entry beyond key + encoded value: the key str, Entry, values dict, tuple and float
objects, and the cache's dict and LRU-order slots (measured with tracemalloc on CPython 3.11;
tests/test_cache_memory.py keeps it honest)."""

_Stored = tuple[float, Entry, int]  # (expires at, entry, accounted cost)


FLOAT_BYTES = 24
"""The longest JSON of a double (``-2.2250738585072014e-308``): what every float counts."""

_ENVELOPE = len('{"h":,"v":}')


def entry_cost(key: str, entry: Entry) -> int:
    """The bytes ``entry`` under ``key`` is accounted for."""
    size = len(key.encode("utf-8")) + _ENVELOPE + len(str(entry.dict_hash))
    return size + json_size(entry.values) + ENTRY_OVERHEAD


def json_size(value: Any) -> int:
    """About the length of ``value`` as compact JSON, counted without encoding it: exact for
    ints, bools, None and ASCII strings without escapes; at least the length for floats."""
    kind = type(value)
    if kind is float:
        return FLOAT_BYTES
    if kind is str:
        return len(value.encode("utf-8")) + 2
    if kind is int:
        return len(str(value))
    if value is True or value is None:
        return 4
    if value is False:
        return 5
    if kind is dict:
        size = 1 + (not value)
        for name, item in value.items():
            size += json_size(str(name)) + json_size(item) + 2
        return size
    if kind is list:
        return 1 + sum(json_size(v) + 1 for v in value) + (not value)
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


class _Bounded(LRUCache[str, _Stored]):
    def __init__(self, maxsize: int, on_evict: Callable[[], None]) -> None:
        super().__init__(maxsize, getsizeof=lambda stored: stored[2])
        self._on_evict = on_evict

    def popitem(self) -> tuple[str, _Stored]:
        item = super().popitem()
        self._on_evict()
        return item


class MemoryStore:
    """Thread-safe; ``size_mb`` bounds :attr:`accounted_bytes`."""

    def __init__(
        self,
        name: str,
        size_mb: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size_mb <= 0:
            raise ValueError(f"{name}: SizeMB must be > 0, got {size_mb}")
        self.name = name
        self.capacity_bytes = int(size_mb * 1024 * 1024)
        self.counters = StoreCounters()
        self._clock = clock
        # One lock for the cache and its counters: a hit takes it once.
        self._lock = self.counters.lock
        self._cache = _Bounded(self.capacity_bytes, lambda: self.counters.add("evictions"))

    @property
    def accounted_bytes(self) -> int:
        return int(self._cache.currsize)

    def __len__(self) -> int:
        return len(self._cache)

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        now = self._clock()
        out: list[Entry | None] = []
        expired = 0
        hits = 0
        counters = self.counters
        with self._lock:
            for key in keys:
                stored = self._cache.get(key)
                if stored is None:
                    out.append(None)
                elif stored[0] <= now:
                    del self._cache[key]
                    expired += 1
                    out.append(None)
                else:
                    hits += 1
                    out.append(stored[1])
            counters.hits += hits
            counters.misses += len(keys) - hits
            counters.expired += expired
        return out

    def get_one(self, key: str) -> Entry | None:
        """:meth:`get_many` for one key (the memory-hit path of every ``eval``)."""
        now = self._clock()
        counters = self.counters
        with self._lock:
            stored = self._cache.get(key)
            if stored is not None and stored[0] > now:
                counters.hits += 1
                return stored[1]
            if stored is not None:
                del self._cache[key]
                counters.expired += 1
            counters.misses += 1
        return None

    def put_many(self, items: Sequence[tuple[str, Entry]], ttl_ms: int) -> None:
        expires = self._clock() + ttl_ms / 1000.0
        sized = [(key, entry, entry_cost(key, entry)) for key, entry in items]
        stored = 0
        with self._lock:
            for key, entry, cost in sized:
                if cost > self.capacity_bytes:
                    continue  # larger than the whole cache: cachetools would raise
                self._cache[key] = (expires, entry, cost)
                stored += 1
        self.counters.add("writes", stored)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        self.clear()
