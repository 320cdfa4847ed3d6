"""Concurrent misses on one key evaluate once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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


def test_a_failed_leader_lets_the_followers_evaluate_themselves() -> None:
    group: Group[str] = Group()
    leader_started, fail_now = threading.Event(), threading.Event()

    def failing(keys: list[str]) -> list[str]:
        leader_started.set()
        fail_now.wait(5)
        raise RuntimeError("boom")

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(group.do, ["a"], failing)
        assert leader_started.wait(5)
        follower = pool.submit(group.do, ["a", "b"], lambda keys: [k.upper() for k in keys])
        while group.counters.snapshot()["deduped"] == 0:  # the follower waits on "a"
            time.sleep(0.001)
        fail_now.set()
        with pytest.raises(RuntimeError, match="boom"):
            leader.result(timeout=5)
        assert follower.result(timeout=5) == {"a": "A", "b": "B"}
    assert group.counters.snapshot() == {"computed": 2, "deduped": 1, "retried": 1}
    assert len(group) == 0


def test_the_leader_publishes_before_the_followers_wake() -> None:
    group: Group[int] = Group()
    published: list[str] = []
    computing, finish = threading.Event(), threading.Event()

    def slow(keys: list[str]) -> list[int]:
        computing.set()
        finish.wait(5)
        return [len(k) for k in keys]

    def follower_sees_it_published() -> bool:
        group.do(["abc"], lambda keys: [-1] * len(keys))
        return published == ["abc"]

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(group.do, ["abc"], slow, lambda fresh: published.extend(fresh))
        assert computing.wait(5)
        follower = pool.submit(follower_sees_it_published)
        while group.counters.snapshot()["deduped"] == 0:
            time.sleep(0.001)
        finish.set()
        assert leader.result(timeout=5) == {"abc": 3}
        assert follower.result(timeout=5)


def test_a_failed_publish_still_wakes_the_followers_with_the_values() -> None:
    group: Group[int] = Group()
    computing, finish = threading.Event(), threading.Event()

    def slow(keys: list[str]) -> list[int]:
        computing.set()
        finish.wait(5)
        return [7] * len(keys)

    def broken_store(fresh: object) -> None:
        raise OSError("store down")

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(group.do, ["k"], slow, broken_store)
        assert computing.wait(5)
        follower = pool.submit(group.do, ["k"], lambda keys: [-1] * len(keys))
        while group.counters.snapshot()["deduped"] == 0:
            time.sleep(0.001)
        finish.set()
        with pytest.raises(OSError, match="store down"):
            leader.result(timeout=5)
        assert follower.result(timeout=5) == {"k": 7}
    assert group.counters.snapshot()["retried"] == 0
