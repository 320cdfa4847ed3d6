"""Duplicate suppression for concurrent misses (groupcache's ``singleflight``), by key.

    results = group.do(keys, compute, publish=store)

:meth:`Group.do` computes each key once however many callers miss it at the same time: the
keys nobody is computing are computed by this caller (one ``compute`` call for all of them),
``publish`` runs on the fresh values (the cache write) before the callers waiting on them are
released, so that a newcomer finds them in the cache rather than computing them again. The keys
another caller is computing are awaited. If that caller fails, or takes longer than
``follower_timeout_s``, the waiter computes them itself: one caller's failure never becomes
another's. The whole idea lives here; callers only say how to compute and where to publish.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, TypeVar

from bridge.cache.counters import Counters

V = TypeVar("V")

FOLLOWER_TIMEOUT_S = 30.0
"""How long a caller waits for another caller's computation of a key before doing it itself."""


@dataclasses.dataclass
class GroupCounters(Counters):
    computed: int = 0
    """Keys computed by the caller that claimed them (retries not included)."""
    deduped: int = 0
    """Keys that found another caller's computation in flight and waited for it."""
    retried: int = 0
    """Of those, keys computed again because that computation failed or took too long."""


class _Flight(Generic[V]):
    """One caller's computation of the keys it claimed: one per :meth:`Group.do`, not one per
    key (a ``Future`` per key, with its lock and condition, was a large part of a batch's
    cost)."""

    __slots__ = ("done", "failed", "values")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.values: Mapping[str, V] = {}
        self.failed = False


class Group(Generic[V]):
    def __init__(
        self, follower_timeout_s: float = FOLLOWER_TIMEOUT_S, counters: GroupCounters | None = None
    ) -> None:
        self.follower_timeout_s = follower_timeout_s
        self.counters = counters if counters is not None else GroupCounters()
        """May be shared by several groups (a model's versions count as one)."""
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[V]] = {}

    def do(
        self,
        keys: Sequence[str],
        compute: Callable[[list[str]], Sequence[V]],
        publish: Callable[[Mapping[str, V]], None] | None = None,
    ) -> dict[str, V]:
        """The value of every key in ``keys`` (distinct), each computed once across callers.

        ``compute(some_keys)`` answers one value per key, in order. An exception from it
        reaches this caller, and the callers waiting on those keys compute them themselves.
        An exception from ``publish`` reaches this caller after the waiters have their values.
        """
        flight: _Flight[V] = _Flight()
        mine, theirs = self._claim(keys, flight)
        results: dict[str, V] = {}
        if mine:
            try:
                fresh = dict(zip(mine, compute(mine), strict=True))
            except BaseException:
                self._release(mine, flight, None)
                raise
            try:
                if publish is not None:
                    publish(fresh)
            finally:
                self._release(mine, flight, fresh)
            if not theirs:
                return fresh
            results.update(fresh)  # fresh is the waiters' now: not written to
        if theirs:
            retry: list[str] = []
            for other, waited in theirs.items():
                if other.done.wait(self.follower_timeout_s) and not other.failed:
                    values = other.values
                    for key in waited:
                        results[key] = values[key]
                else:  # the leader failed or hangs: compute these keys ourselves
                    retry.extend(waited)
            if retry:
                self.counters.add("retried", len(retry))
                results.update(zip(retry, compute(retry), strict=True))
        return results

    def _claim(
        self, keys: Sequence[str], flight: _Flight[V]
    ) -> tuple[list[str], dict[_Flight[V], list[str]]]:
        """``(keys now computed by the caller, others' flights → the keys awaited from each)``."""
        mine: list[str] = []
        theirs: dict[_Flight[V], list[str]] = {}
        flights = self._flights
        with self._lock:
            for key in keys:
                other = flights.get(key)
                if other is None:
                    flights[key] = flight
                    mine.append(key)
                else:
                    theirs.setdefault(other, []).append(key)
        self.counters.add_many(computed=len(mine), deduped=len(keys) - len(mine))
        return mine, theirs

    def _release(self, keys: list[str], flight: _Flight[V], fresh: Mapping[str, V] | None) -> None:
        """Wake the waiters of ``keys`` with their values (``None``: the computation failed)."""
        flights = self._flights
        with self._lock:
            for key in keys:
                if flights.get(key) is flight:
                    del flights[key]
        if fresh is None:
            flight.failed = True
        else:
            flight.values = fresh
        flight.done.set()

    def __len__(self) -> int:
        """Keys being computed now."""
        return len(self._flights)
