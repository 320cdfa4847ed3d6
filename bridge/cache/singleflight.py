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
from concurrent.futures import Future
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


class Group(Generic[V]):
    def __init__(
        self, follower_timeout_s: float = FOLLOWER_TIMEOUT_S, counters: GroupCounters | None = None
    ) -> None:
        self.follower_timeout_s = follower_timeout_s
        self.counters = counters if counters is not None else GroupCounters()
        """May be shared by several groups (a model's versions count as one)."""
        self._lock = threading.Lock()
        self._flights: dict[str, Future[V]] = {}

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
        mine, theirs = self._claim(keys)
        results: dict[str, V] = {}
        if mine:
            try:
                fresh = dict(zip(mine, compute(mine), strict=True))
            except BaseException as exc:
                self._release(mine, exc)
                raise
            try:
                if publish is not None:
                    publish(fresh)
            finally:
                self._release(mine, fresh)
            results.update(fresh)
        retry: list[str] = []
        for key, flight in theirs.items():
            try:
                results[key] = flight.result(timeout=self.follower_timeout_s)
            except Exception:  # the leader failed or hangs: compute this key ourselves
                retry.append(key)
        if retry:
            self.counters.add("retried", len(retry))
            results.update(zip(retry, compute(retry), strict=True))
        return results

    def _claim(self, keys: Sequence[str]) -> tuple[list[str], dict[str, Future[V]]]:
        """``(keys now computed by the caller, futures of keys that others are computing)``."""
        mine: list[str] = []
        theirs: dict[str, Future[V]] = {}
        with self._lock:
            for key in keys:
                flight = self._flights.get(key)
                if flight is None:
                    self._flights[key] = Future()
                    mine.append(key)
                else:
                    theirs[key] = flight
        self.counters.add_many(computed=len(mine), deduped=len(theirs))
        return mine, theirs

    def _release(self, keys: list[str], outcome: Mapping[str, V] | BaseException) -> None:
        """Wake the waiters of ``keys`` with their values, or with the leader's exception."""
        with self._lock:
            flights = [(k, self._flights.pop(k)) for k in keys if k in self._flights]
        for key, flight in flights:
            if isinstance(outcome, BaseException):
                flight.set_exception(outcome)
            else:
                flight.set_result(outcome[key])

    def __len__(self) -> int:
        """Keys being computed now."""
        return len(self._flights)
