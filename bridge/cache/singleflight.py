"""Duplicate suppression for concurrent misses (groupcache's ``singleflight``), by key.

A caller *claims* the keys it is about to compute: the keys nobody is computing become its own
(it must :meth:`Group.resolve` or :meth:`Group.fail` them), the others come back as futures of
the computation already in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

V = TypeVar("V")


class Group(Generic[V]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Future[V]] = {}

    def claim(self, keys: Iterable[str]) -> tuple[list[str], dict[str, Future[V]]]:
        """``(keys now owned by the caller, futures of keys that others are computing)``."""
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
        return mine, theirs

    def resolve(self, values: Mapping[str, V]) -> None:
        with self._lock:
            flights = [(self._flights.pop(k), v) for k, v in values.items() if k in self._flights]
        for flight, value in flights:
            flight.set_result(value)

    def fail(self, keys: Sequence[str], exc: BaseException) -> None:
        with self._lock:
            flights = [self._flights.pop(k) for k in keys if k in self._flights]
        for flight in flights:
            flight.set_exception(exc)

    def __len__(self) -> int:
        return len(self._flights)
