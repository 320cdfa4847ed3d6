"""Scale-out the mly way: two instances of our HTTP server share one ``redis-server`` as L1.

A row evaluated by one instance is found in Redis by the other, which answers it without
evaluating the model (its counters say so: no row evaluated, one L1 hit). Real processes,
real Redis on a free loopback port, real HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.mlbridge_server import MlbridgeServer
from support.redis_server import RedisServer

CONFIG = """
Endpoint: {{Port: 0, Host: 127.0.0.1}}
Models:
  - ID: sli
    URL: {models}/string_lookups_int_model
    DataStore: shared
Datastores:
  - ID: shared
    Cache: {{SizeMb: 8}}
    TimeToLiveMs: 600000
    Connection: redis
    Namespace: mlbridge
    Dataset: sli
Connections:
  - ID: redis
    Kind: redis
    Hostnames: 127.0.0.1
    Port: {port}
"""


@pytest.fixture(scope="module")
def instances(
    mly_models: Path, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MlbridgeServer, MlbridgeServer]]:
    config = tmp_path_factory.mktemp("scaleout") / "config.yaml"
    config.write_text(CONFIG.format(models=mly_models, port=redis_server.port), encoding="utf-8")
    with MlbridgeServer(config) as a, MlbridgeServer(config) as b:
        yield a, b


def counters(server: MlbridgeServer) -> dict[str, int]:
    response = httpx.get(f"{server.url}/v1/api/model/sli/meta/stats", timeout=30)
    assert response.status_code == 200, response.text
    stats: dict[str, Any] = response.json()
    tiers = stats["runtime"]["datastore"]["tiers"]
    return {
        "evaluated": stats["runtime"]["model"]["rows_evaluated"],
        "local_hits": tiers["local"]["hits"],
        "l1_hits": tiers["l1"]["hits"],
        "l1_writes": tiers["l1"]["writes"],
        "memo_hits": stats["memo"]["hits"],  # answered by the server alone (its memo)
    }


def changes(server: MlbridgeServer, before: dict[str, int]) -> dict[str, int]:
    now = counters(server)
    return {name: now[name] - before[name] for name in now}


def evaluate(server: MlbridgeServer, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{server.url}/v1/api/model/sli/eval", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for_l1_writes(server: MlbridgeServer, before: dict[str, int], n: int) -> None:
    """Stores go to Redis in the background: wait until ``n`` more have landed."""
    deadline = time.monotonic() + 10
    while changes(server, before)["l1_writes"] < n:
        assert time.monotonic() < deadline, f"no {n} L1 writes: {changes(server, before)}"
        time.sleep(0.02)


def test_a_row_evaluated_by_one_instance_is_a_hit_on_the_other(
    instances: tuple[MlbridgeServer, MlbridgeServer], redis_server: RedisServer
) -> None:
    a, b = instances
    assert a.url != b.url
    row = {"sa": "b", "sl": "c"}

    before_a, before_b = counters(a), counters(b)
    assert evaluate(a, row) == {"expand": 12}
    wait_for_l1_writes(a, before_a, 1)
    assert changes(a, before_a)["evaluated"] == 1
    assert redis_server.client().dbsize() >= 1

    assert evaluate(b, row) == {"expand": 12}
    assert changes(b, before_b) == {
        "evaluated": 0,
        "local_hits": 0,
        "l1_hits": 1,
        "l1_writes": 0,
        "memo_hits": 0,
    }

    # Now in B's memo: the same request again does not reach B's runtime, nor Redis.
    assert evaluate(b, row) == {"expand": 12}
    assert changes(b, before_b) == {
        "evaluated": 0,
        "local_hits": 0,
        "l1_hits": 1,
        "l1_writes": 0,
        "memo_hits": 1,
    }
    # The same row spelt another way reaches B's runtime: now in its memory tier.
    assert evaluate(b, {"sl": "c", "sa": "b"}) == {"expand": 12}
    assert changes(b, before_b)["local_hits"] == 1 and changes(b, before_b)["l1_hits"] == 1


def test_a_batch_evaluates_only_the_rows_no_instance_has_seen(
    instances: tuple[MlbridgeServer, MlbridgeServer],
) -> None:
    a, b = instances
    before_a, before_b = counters(a), counters(b)
    assert evaluate(a, {"sa": "a", "sl": "a"}) == {"expand": 25}
    wait_for_l1_writes(a, before_a, 1)

    # One row A evaluated, two new ones (one out of vocabulary): B evaluates the two.
    batch = {"batch_size": 3, "sa": ["a", "zz", "c"], "sl": ["a", "a", "qq"]}
    assert evaluate(b, batch) == [{"expand": 25}, {"expand": 10}, {"expand": 6}]
    assert changes(b, before_b)["evaluated"] == 2
    wait_for_l1_writes(b, before_b, 2)

    # Back on A, another spelling of the OOV row ([UNK]/a) and c/qq: both from Redis.
    assert evaluate(a, {"batch_size": 2, "sa": ["yy", "c"], "sl": ["a", "qq"]}) == [
        {"expand": 10},
        {"expand": 6},
    ]
    assert changes(a, before_a)["evaluated"] == 1  # the first row only
