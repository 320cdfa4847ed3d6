"""Concurrent misses on one key evaluate once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bridge.cache import Group, MemoryStore, Tier, TieredStore
from bridge.config import Field, Model
from bridge.mly.service import ModelService


class SlowPredictor:
    """A stand-in model: 50 ms per call, counts its calls and rows."""

    def __init__(self, path: Path) -> None:
        self.input_dtypes = {"name": "string", "n": "int64"}
        self.output_names = ["greeting"]
        self.calls = 0
        self.rows = 0
        self.lock = threading.Lock()

    def predict(self, inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        with self.lock:
            self.calls += 1
            self.rows += len(inputs["name"])
        time.sleep(0.05)
        return {
            "greeting": [f"hi {n} x{k}" for n, k in zip(inputs["name"], inputs["n"], strict=True)]
        }


def service(predictor: SlowPredictor) -> ModelService:
    spec = Model(
        id="slow",
        url=Path("/none"),
        inputs=(Field("name", wildcard=True), Field("n", wildcard=True)),
        datastore="mem",
    )
    store = TieredStore("mem", local=Tier("local", MemoryStore("mem.local", 1), 60_000))
    return ModelService(spec, store, predictor_factory=lambda _: predictor)


def test_ten_threads_missing_one_key_evaluate_exactly_once() -> None:
    predictor = SlowPredictor(Path())
    svc = service(predictor)
    barrier = threading.Barrier(10)

    def call(_: int) -> dict[str, Any]:
        barrier.wait()
        return svc.eval({"name": "ada", "n": 1})

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(call, range(10)))
    assert results == [{"greeting": "hi ada x1"}] * 10
    assert predictor.calls == 1
    counters = svc.snapshot()["model"]
    assert counters["evaluations"] == 1
    assert counters["deduped"] + svc.snapshot()["datastore"]["local_hits"] == 9


def test_overlapping_batches_share_their_common_keys() -> None:
    predictor = SlowPredictor(Path())
    svc = service(predictor)
    barrier = threading.Barrier(4)
    rows = [{"name": f"p{i}", "n": i} for i in range(20)]

    def call(_: int) -> list[dict[str, Any]]:
        barrier.wait()
        return svc.process_batch(rows)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4)))
    assert all(r == results[0] for r in results)
    assert predictor.rows == 20


T = TypeVar("T")


class HeldLeader:
    """A leader's computation that holds its keys until :meth:`release`, then answers (or
    raises) ``outcome``: lets a test start a follower while the keys are in flight."""

    def __init__(self, outcome: Callable[[list[str]], list[int]]) -> None:
        self.outcome = outcome
        self.computing, self._release = threading.Event(), threading.Event()

    def __call__(self, keys: list[str]) -> list[int]:
        self.computing.set()
        self._release.wait(5)
        return self.outcome(keys)

    def release(self) -> None:
        self._release.set()


def lead_and_follow(
    group: Group[int],
    leader: Callable[[], dict[str, int]],
    held: HeldLeader,
    follower: Callable[[], T],
) -> tuple[Future[dict[str, int]], Future[T]]:
    """Start ``leader``; once its keys are in flight start ``follower``; once the follower
    waits on them, release the leader."""
    with ThreadPoolExecutor(2) as pool:
        leading = pool.submit(leader)
        assert held.computing.wait(5)
        following = pool.submit(follower)
        while group.counters.snapshot()["deduped"] == 0:
            time.sleep(0.001)
        held.release()
    return leading, following


def lengths(keys: list[str]) -> list[int]:
    return [len(k) for k in keys]


def test_a_failed_leader_lets_the_followers_evaluate_themselves() -> None:
    group: Group[int] = Group()

    def boom(keys: list[str]) -> list[int]:
        raise RuntimeError("boom")

    held = HeldLeader(boom)
    leader, follower = lead_and_follow(
        group, lambda: group.do(["a"], held), held, lambda: group.do(["a", "bb"], lengths)
    )
    with pytest.raises(RuntimeError, match="boom"):
        leader.result()
    assert follower.result() == {"a": 1, "bb": 2}
    assert group.counters.snapshot() == {"computed": 2, "deduped": 1, "retried": 1}
    assert len(group) == 0


def test_the_leader_publishes_before_the_followers_wake() -> None:
    group: Group[int] = Group()
    published: list[str] = []

    def follower_sees_it_published() -> bool:
        group.do(["abc"], lambda keys: [-1] * len(keys))
        return published == ["abc"]

    held = HeldLeader(lengths)
    leader, follower = lead_and_follow(
        group,
        lambda: group.do(["abc"], held, lambda fresh: published.extend(fresh)),
        held,
        follower_sees_it_published,
    )
    assert leader.result() == {"abc": 3}
    assert follower.result()


def test_a_failed_publish_still_wakes_the_followers_with_the_values() -> None:
    group: Group[int] = Group()

    def broken_store(fresh: object) -> None:
        raise OSError("store down")

    held = HeldLeader(lengths)
    leader, follower = lead_and_follow(
        group,
        lambda: group.do(["k"], held, broken_store),
        held,
        lambda: group.do(["k"], lambda keys: [-1] * len(keys)),
    )
    with pytest.raises(OSError, match="store down"):
        leader.result()
    assert follower.result() == {"k": 1}
    assert group.counters.snapshot()["retried"] == 0
