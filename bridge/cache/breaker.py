"""A circuit breaker around a datastore: a failing tier becomes a miss, never an error.

After a failure the tier is *down* for a back-off (the connection's
:class:`~bridge.config.Backoff`: 1 s first, as mly, doubled on each failed probe up to a
maximum). While down, reads answer misses and writes are dropped, both counted as
``down`` without touching the network. When the back-off has passed, one caller probes; success
closes the breaker and resets the back-off.

Only :class:`BackendUnavailable` (the server cannot be reached, or did not answer within the
connection's total deadline) opens the breaker. Any other exception of a store concerns what
was asked, not the tier: that call's keys are misses, counted as ``errors``, and every other
caller keeps the tier.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from bridge.cache.backend import Backend, BackendUnavailable
from bridge.cache.counters import StoreCounters
from bridge.cache.entry import Entry
from bridge.config import Backoff


class Breaker:
    def __init__(
        self,
        store: Backend,
        backoff: Backoff,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.name = store.name
        self.counters: StoreCounters = store.counters
        self.initial_backoff_s = backoff.initial_ms / 1000.0
        self.max_backoff_s = backoff.max_ms / 1000.0
        self._clock = clock
        self._lock = threading.Lock()
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._probing = False
        self.last_error = ""

    @property
    def is_open(self) -> bool:
        """True while the tier is considered down."""
        return self._backoff_s > 0

    def _admit(self) -> bool:
        """May this call reach the store? (closed, or the one probe after the back-off)."""
        if self._backoff_s == 0:
            return True
        with self._lock:
            if self._backoff_s == 0:
                return True
            if self._probing or self._clock() < self._retry_at:
                return False
            self._probing = True
            return True

    def _failed(self, exc: Exception) -> None:
        if not isinstance(exc, BackendUnavailable):
            # Not the tier's failure (a bug, a value the client cannot send): this call's
            # miss only. The stores count their own unavailability; this one is counted here.
            self.counters.add("errors")
            self._succeeded()  # the server was not found wanting: a probe closes the breaker
            return
        with self._lock:
            doubled = self._backoff_s * 2 if self._backoff_s else self.initial_backoff_s
            self._backoff_s = min(self.max_backoff_s, doubled)
            self._retry_at = self._clock() + self._backoff_s
            self._probing = False
            self.last_error = str(exc)

    def _succeeded(self) -> None:
        if self._backoff_s:
            with self._lock:
                self._backoff_s = 0.0
                self._probing = False

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        if not keys:
            return []
        if not self._admit():
            self.counters.add("down", len(keys))
            return [None] * len(keys)
        try:
            found = self.store.get_many(keys)
        except Exception as exc:  # any store failure is a miss, never a failed prediction
            self._failed(exc)
            return [None] * len(keys)
        self._succeeded()
        return found

    def put_many(self, items: Sequence[tuple[str, Entry]], ttl_ms: int) -> None:
        if not items:
            return
        if not self._admit():
            self.counters.add("down", len(items))
            return
        try:
            self.store.put_many(items, ttl_ms)
        except Exception as exc:  # any store failure is a miss, never a failed prediction
            self._failed(exc)
            return
        self._succeeded()

    def close(self) -> None:
        self.store.close()
