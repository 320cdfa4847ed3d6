"""The circuit breaker's logic, on a fake store whose failures the test controls."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.cache.backend import BackendUnavailable
from bridge.cache.breaker import Breaker
from bridge.cache.counters import StoreCounters
from bridge.cache.entry import Entry
from bridge.config import Backoff


class FlakyStore:
    """Fails with ``failure`` while it is set; otherwise an empty store."""

    def __init__(self) -> None:
        self.name = "flaky"
        self.counters = StoreCounters()
        self.failure: Exception | None = None
        self.calls = 0

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return [None] * len(keys)

    def put_many(self, items: Sequence[tuple[str, Entry]], ttl_ms: int) -> None:
        self.get_many([key for key, _ in items])

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failure_opens_the_breaker_and_one_probe_after_the_backoff_closes_it() -> None:
    store, clock = FlakyStore(), Clock()
    breaker = Breaker(store, Backoff(initial_ms=1_000), clock=clock)
    store.failure = BackendUnavailable("connection refused")
    assert breaker.get_many(["a", "b"]) == [None, None]
    assert breaker.is_open and store.calls == 1
    assert breaker.get_many(["a"]) == [None]  # down: the store is not asked
    assert store.calls == 1 and store.counters.down == 1
    store.failure = None
    clock.now += 1.01
    assert breaker.get_many(["a"]) == [None]
    assert not breaker.is_open and store.calls == 2


def test_a_failed_probe_doubles_the_backoff() -> None:
    store, clock = FlakyStore(), Clock()
    breaker = Breaker(store, Backoff(initial_ms=1_000, max_ms=3_000), clock=clock)
    store.failure = BackendUnavailable("timeout")
    breaker.get_many(["a"])
    clock.now += 1.01
    breaker.get_many(["a"])  # the probe fails: back-off 2 s
    clock.now += 1.5
    breaker.get_many(["a"])
    assert store.calls == 2
    clock.now += 0.6
    breaker.get_many(["a"])  # probe again, fails: back-off capped at 3 s
    assert store.calls == 3 and breaker.is_open


def test_an_error_that_is_not_unavailability_is_a_counted_miss_and_the_tier_stays_up() -> None:
    # Issue #14 item 8: one bad key or value must not take the tier away from every caller.
    store, clock = FlakyStore(), Clock()
    breaker = Breaker(store, Backoff(initial_ms=1_000), clock=clock)
    store.failure = RuntimeError("a bug in a store, or a value it cannot send")
    assert breaker.get_many(["a"]) == [None]
    breaker.put_many([("a", Entry(dict_hash=1, values={"x": 1}))], ttl_ms=1000)
    assert store.counters.errors == 2 and store.counters.down == 0
    assert not breaker.is_open
    store.failure = None
    assert breaker.get_many(["b"]) == [None]  # asked at once, no back-off
    assert store.calls == 3


def test_such_an_error_during_a_probe_closes_the_breaker() -> None:
    store, clock = FlakyStore(), Clock()
    breaker = Breaker(store, Backoff(initial_ms=1_000), clock=clock)
    store.failure = BackendUnavailable("refused")
    breaker.get_many(["a"])
    assert breaker.is_open
    clock.now += 1.01
    store.failure = ValueError("this key only")
    assert breaker.get_many(["a"]) == [None]  # the probe reached the server
    assert not breaker.is_open
