"""Speed goals of the prediction cache, measured side by side in one run: a memory hit and a
Redis L1 hit of ``wine_quality.eval`` against the same model uncached.

By default (``--benchmark-disable``) each runs once as a test and prints its ratio; ``make
bench-micro`` (``--benchmark-enable``) asserts the goal (``support.speed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.mly import MlyLoader
from bridge.runtime import Runtime
from support.mly import WINE_ROW, redis_example_config, write_config
from support.redis_server import RedisServer
from support.speed import SpeedGoal, interleaved_ratio


def test_benchmark_memory_hit_is_100x_faster_than_uncached(
    wine: Runtime, benchmark: Any, speed_goal: SpeedGoal
) -> None:
    runtime = wine
    runtime.call("wine_quality.eval", WINE_ROW)
    uncached, hit, ratio = interleaved_ratio(
        lambda: runtime.call("wine_uncached.eval", WINE_ROW),
        50,
        lambda: runtime.call("wine_quality.eval", WINE_ROW),
        2000,
    )
    print(
        f"\nwine_quality.eval: uncached {uncached * 1e6:.0f} us, memory hit {hit * 1e6:.2f} us, "
        f"{ratio:.0f}x"
    )
    benchmark.extra_info.update(uncached_us=uncached * 1e6, hit_us=hit * 1e6, ratio=ratio)
    benchmark(runtime.call, "wine_quality.eval", WINE_ROW)
    speed_goal(ratio, at_least=100, what="memory hit vs uncached wine_quality.eval")


def test_benchmark_redis_server_hit_is_10x_faster_than_uncached(
    runtime: Runtime,
    mly_loader: MlyLoader,
    quality_model: Path,
    tmp_path: Path,
    redis_server: RedisServer,
    benchmark: Any,
    speed_goal: SpeedGoal,
) -> None:
    # The example as shipped, minus the memory tier, pointed at the test's server.
    config = redis_example_config(
        quality_model, tmp_path, redis_server.port, **{r"    Cache:\n      SizeMB: 16\n": ""}
    )
    runtime.load_from_file("mly", [config])
    uncached_cfg = write_config(
        tmp_path, f"Models: [{{ID: wine_uncached, URL: {quality_model}}}]", "uncached.yaml"
    )
    runtime.load_from_file("mly", [uncached_cfg])
    runtime.call("wine_quality.eval", WINE_ROW)
    mly_loader.flush()
    uncached, hit, ratio = interleaved_ratio(
        lambda: runtime.call("wine_uncached.eval", WINE_ROW),
        50,
        lambda: runtime.call("wine_quality.eval", WINE_ROW),
        300,
    )
    print(
        f"\nwine_quality.eval: uncached {uncached * 1e6:.0f} us, Redis L1 hit {hit * 1e6:.1f} us, "
        f"{ratio:.1f}x"
    )
    snap = mly_loader.snapshot()["datastores"]["wine_quality_cache"]
    assert snap["l1_hits"] >= 1500 and "local" not in snap["tiers"]
    benchmark.extra_info.update(uncached_us=uncached * 1e6, hit_us=hit * 1e6, ratio=ratio)
    benchmark(runtime.call, "wine_quality.eval", WINE_ROW)
    speed_goal(ratio, at_least=10, what="Redis L1 hit vs uncached wine_quality.eval")
