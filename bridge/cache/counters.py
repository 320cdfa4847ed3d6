"""Counters as fields of the objects that count (groupcache's ``Stats``), read as one snapshot."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any


@dataclasses.dataclass
class Counters:
    """Base for a group of integer counters; subclasses only declare fields.

    Increments take a lock: ``x += 1`` on an attribute is not atomic across threads, and a
    counter that loses updates under load is worse than none.
    """

    def __post_init__(self) -> None:
        object.__setattr__(self, "lock", threading.RLock())

    lock: threading.RLock = dataclasses.field(init=False, repr=False, compare=False)
    """Hot paths increment fields directly under this lock (cheaper than :meth:`add_many`)."""

    def add(self, name: str, n: int = 1) -> None:
        if n:
            with self.lock:
                setattr(self, name, getattr(self, name) + n)

    def add_many(self, **amounts: int) -> None:
        """Several counters under one lock acquisition (the hot path counts 3 to 5 at once)."""
        with self.lock:
            for name, n in amounts.items():
                if n:
                    setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {f.name: getattr(self, f.name) for f in _counter_fields(self)}

    def reset(self) -> None:
        with self.lock:
            for f in _counter_fields(self):
                setattr(self, f.name, 0)


def _counter_fields(counters: Counters) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(counters) if f.name != "lock"]


@dataclasses.dataclass
class StoreCounters(Counters):
    """One backend (memory, Redis, Aerospike) behind its circuit breaker."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    expired: int = 0
    corrupt: int = 0
    errors: int = 0
    down: int = 0
    """Operations skipped because the breaker was open."""
    evictions: int = 0
