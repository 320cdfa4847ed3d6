"""The one protocol every backend implements: many keys in, many entries out, with a TTL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bridge.cache.counters import StoreCounters
from bridge.cache.entry import Entry


class BackendUnavailable(Exception):
    """A backend failed or timed out; the caller treats it as a miss (reads) or skips (writes)."""


class Backend(Protocol):
    """A key → :class:`Entry` store.

    ``get_many`` answers one result per key, in order: the entry, or ``None`` for absent,
    expired or unreadable (corrupt) entries, which the store counts. Backends raise
    :class:`BackendUnavailable` when the server cannot be reached; the circuit breaker
    (:class:`bridge.cache.breaker.Breaker`) turns that into misses.
    """

    name: str
    counters: StoreCounters

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]: ...

    def put_many(self, items: Sequence[tuple[str, Entry]], ttl_ms: int) -> None: ...

    def close(self) -> None: ...
