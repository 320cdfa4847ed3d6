"""What the client's caches save, against a real server over loopback HTTP (pytest-benchmark).

The server is ours (``build/bin/mlbridge-server``) and mly's own (``build/peers/mly-server``,
skipped when it is not built), each serving ``vectorization_int_model`` as ``vec``: its ``tv``
input is a wildcard (the raw text is in the key), so every batch can have rows that no cache
has seen. Goals (issue #13): a local hit at least 100x cheaper than a round trip; a batch of
100 rows with 90 local hits at least 5x faster than the same batch from a client without a
local cache, against the same server (the batch test says what each side does).

The second goal is missed on this machine: the 10 misses still cost one request, and the
server's own time for it (``serviceTimeMcs``: on ours mostly the model call, whose cost hardly
depends on the rows) plus the 90 hits is more than a fifth of the baseline, so even a request
that cost the client nothing would not reach 5x. The test prints that bound beside the ratio.
What the client controls is that the 90 hits cost little beside that request: asserted as at
most a fifth of the 10 misses' request. Goals are asserted only under ``--benchmark-enable``
(``make bench-micro``)::

    .venv/bin/python -m pytest tests/test_client_bench.py --benchmark-enable -s
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.cache import MemoryStore
from bridge.client import Client
from support.mlbridge_server import KINDS, serving
from support.speed import SpeedGoal, interleaved_ratio

BATCH = 100
HITS = 90


@pytest.fixture(scope="module", params=KINDS)
def vec_server(
    request: pytest.FixtureRequest, mly_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(server kind, host) serving ``vec``."""
    kind: str = request.param
    server = serving(kind, mly_models, tmp_path_factory.mktemp(kind), "vec")
    server.start()
    try:
        yield kind, server.host
    finally:
        server.close()


@pytest.fixture
def client(vec_server: tuple[str, str]) -> Iterator[Client]:
    with Client("vec", [vec_server[1]]) as c:
        yield c


_fresh = itertools.count()


def fresh_rows(n: int) -> list[dict[str, str]]:
    """Rows no cache has seen (a new text each)."""
    return [{"tv": f"a b {next(_fresh)}", "sl": "b"} for _ in range(n)]


def test_benchmark_local_hit_is_100x_cheaper_than_a_round_trip(
    vec_server: tuple[str, str], client: Client, benchmark: Any, speed_goal: SpeedGoal
) -> None:
    row = {"tv": "a b c", "sl": "a"}
    assert client.eval(row) == {"expand": 360}  # mly's own e2e value
    store = client.store
    assert store is not None and store.local is not None
    local = store.local.store
    assert isinstance(local, MemoryStore)

    def round_trip() -> Any:
        local.clear()  # the row must go to the server: key, lookup miss, HTTP, merge, store
        return client.eval(row)

    requests = client.counters.requests
    trip, hit, ratio = interleaved_ratio(round_trip, 50, lambda: client.eval(row), 2000)
    assert client.counters.requests == requests + 5 * 50  # the hits sent nothing
    print(
        f"\nclient.eval ({vec_server[0]} server): round trip {trip * 1e6:.0f} us, "
        f"local hit {hit * 1e6:.2f} us, {ratio:.0f}x"
    )
    benchmark.extra_info.update(round_trip_us=trip * 1e6, hit_us=hit * 1e6, ratio=ratio)
    benchmark(client.eval, row)
    speed_goal(ratio, at_least=100, what="client local hit vs server round trip")


def interleaved(cases: dict[str, Callable[[], Any]], n: int) -> dict[str, list[float]]:
    """Seconds per call of each case in each of 5 rounds; within a round the cases run one
    after the other, so that a noisy neighbour slows every case of the round alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(5):
        for name, case in cases.items():
            start = time.perf_counter()
            for _ in range(n):
                case()
            times[name].append((time.perf_counter() - start) / n)
    return times


def test_benchmark_batch_with_90_percent_local_hits_is_5x_faster(
    vec_server: tuple[str, str], client: Client, benchmark: Any, speed_goal: SpeedGoal
) -> None:
    """One batch: 90 rows this client has answered before + 10 rows new to every cache.

    * **mostly cached**: this client; the 90 are local hits, one request carries the 10.
    * **no local cache** (the issue's baseline: the same batch, uncached by the client): a
      client without a local cache against the same server; all 100 rows go out, the server
      answers the 90 from its own datastore (it stored them when it evaluated them) and
      evaluates the 10.
    * **new everywhere**: 100 rows no cache has seen; the server evaluates all 100. Printed,
      not the goal: it compares the client's cache with no caching anywhere.
    * **misses alone**: the 10 new rows in a batch of their own (the request the hits ride on);
      **hits alone**: the 90 (keys and lookups, no request); **h2c**: mostly cached over HTTP/2.

    The mostly cached call looks its 90 rows up, then waits for the server's answer to its
    request: it takes at least the hits alone + the server's own ``serviceTimeMcs`` for that
    request, so even if the request cost the client nothing (building, sending, parsing) a
    ratio is at most baseline / (hits alone + server): printed as the bound. Ratios are medians
    of per-round ratios.
    """
    plain = Client("vec", [vec_server[1]])
    assert plain.store is not None
    plain.store.close()
    plain.store = None  # a client without a local cache: every row goes to the server
    h2c = Client("vec", [vec_server[1]], http2=True)
    hot = fresh_rows(HITS)
    client.run(hot)
    h2c.run(hot)
    served: list[int] = []
    cpu: list[float] = []

    def mostly_cached() -> Any:
        start = time.thread_time()
        result = client.run(hot + fresh_rows(BATCH - HITS))
        cpu.append(time.thread_time() - start)
        assert sum(result.cached) == HITS
        served.append(result.service_time_mcs)
        return result

    def no_local_cache() -> Any:
        result = plain.run(hot + fresh_rows(BATCH - HITS))
        assert not any(result.cached)
        return result

    def new_everywhere() -> Any:
        result = client.run(fresh_rows(BATCH))
        assert not any(result.cached)
        return result

    def misses_alone() -> Any:
        return client.run(fresh_rows(BATCH - HITS))

    def hits_alone() -> Any:
        assert client.run(hot).status == "cached"

    def over_h2c() -> Any:
        assert sum(h2c.run(hot + fresh_rows(BATCH - HITS)).cached) == HITS

    with plain, h2c:
        requests = client.counters.requests
        times = interleaved(
            {
                "mostly": mostly_cached,
                "plain": no_local_cache,
                "new": new_everywhere,
                "misses": misses_alone,
                "hits": hits_alone,
                "h2c": over_h2c,
            },
            10,
        )
        assert client.counters.requests == requests + 3 * 5 * 10  # one request a call

    def ratio(name: str, to: str = "mostly") -> float:
        return statistics.median(b / m for b, m in zip(times[name], times[to], strict=True))

    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    server_ms = statistics.median(served) / 1e3
    floor_ms = server_ms + ms["hits"]
    plain_ratio, new_ratio, hits_cost = ratio("plain"), ratio("new"), 1 / ratio("misses")
    print(
        f"\nclient.run({BATCH} rows, {vec_server[0]} server), medians of 5 interleaved rounds:"
        f"\n  {HITS} local hits + {BATCH - HITS} new rows: {ms['mostly']:.2f} ms "
        f"(the server's own time for its request: {server_ms:.2f} ms)"
        f"\n  the same batch, client without a local cache: {ms['plain']:.2f} ms: "
        f"{plain_ratio:.2f}x (issue goal 5x; with a request that cost the client nothing: at "
        f"most {ms['plain'] / floor_ms:.2f}x)"
        f"\n  {BATCH} rows new to every cache: {ms['new']:.2f} ms: {new_ratio:.2f}x "
        f"(at most {ms['new'] / floor_ms:.2f}x)"
        f"\n  the {BATCH - HITS} new rows alone: {ms['misses']:.2f} ms "
        f"(the {HITS} hits add {hits_cost:.3f}x); the {HITS} hits alone: {ms['hits']:.3f} ms"
        f"\n  in the mostly cached call: client CPU {statistics.median(cpu) * 1e3:.2f} ms, "
        f"the server {server_ms:.2f} ms, the rest (loopback, scheduling) "
        f"{ms['mostly'] - statistics.median(cpu) * 1e3 - server_ms:.2f} ms"
        f"\n  mostly cached over h2c (HTTP/2): {ms['h2c']:.2f} ms"
    )
    benchmark.extra_info.update(
        mostly_cached_ms=ms["mostly"],
        server_ms=server_ms,
        no_local_cache_ms=ms["plain"],
        new_everywhere_ms=ms["new"],
        misses_ms=ms["misses"],
        hits_ms=ms["hits"],
        h2c_ms=ms["h2c"],
        client_cpu_ms=statistics.median(cpu) * 1e3,
        ratio=plain_ratio,
        ratio_new_everywhere=new_ratio,
        bound=ms["plain"] / floor_ms,
    )
    benchmark(mostly_cached)
    speed_goal(
        ratio("hits", "misses"),
        at_most=0.2,
        what=f"{HITS} local hits alone vs the request of the {BATCH - HITS} misses",
    )
    speed_goal(
        plain_ratio,
        at_least=5,
        what=f"{HITS}% local hits vs the same batch from a client without a local cache",
    )
