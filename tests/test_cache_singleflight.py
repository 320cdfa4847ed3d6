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
    counters = svc.counters.snapshot()
    assert counters["evaluations"] == 1
    assert counters["deduped"] + svc.store.snapshot()["local_hits"] == 9  # type: ignore[union-attr]


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
    group: Group[int] = Group()
    mine, theirs = group.claim(["a", "b"])
    assert mine == ["a", "b"] and not theirs
    _, waiting = group.claim(["a"])
    group.fail(["a"], RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        waiting["a"].result(timeout=1)
    group.resolve({"b": 2})
    assert len(group) == 0
