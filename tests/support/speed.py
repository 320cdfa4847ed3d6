"""``speed_goal``: a measured speed ratio checked against its goal in benchmark runs only;
``interleaved_ratio``: the ratio of two timings taken in alternating rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

SpeedGoal = Callable[..., None]


@pytest.fixture
def speed_goal(request: pytest.FixtureRequest) -> SpeedGoal:
    """``speed_goal(measured, at_least=..., at_most=..., what=...)``.

    Speed goals are asserted in benchmark runs (``--benchmark-enable``: ``make bench-micro``)
    and printed, not asserted, in the plain test run: on a shared 2-core machine a timed
    assertion measures the neighbours as much as the code. The behaviour around the timing
    (right answers, cache hits counted) is asserted in both.
    """
    options = request.config.option
    # pyproject's addopts disable benchmarks; --benchmark-enable on the command line wins.
    enforce = options.benchmark_enable or not options.benchmark_disable

    def check(
        measured: float, *, at_least: float | None = None, at_most: float | None = None, what: str
    ) -> None:
        goal = f">= {at_least}" if at_least is not None else f"<= {at_most}"
        print(f"\n{what}: {measured:.4g} (goal {goal}{'' if enforce else ', not enforced'})")
        if not enforce:
            return
        if at_least is not None:
            assert measured >= at_least, f"{what}: {measured:.4g}, goal >= {at_least}"
        if at_most is not None:
            assert measured <= at_most, f"{what}: {measured:.4g}, goal <= {at_most}"

    return check


def interleaved_ratio(
    slow: Callable[[], Any], n_slow: int, fast: Callable[[], Any], n_fast: int
) -> tuple[float, float, float]:
    """(slow s/call, fast s/call, median of per-round ratios) over 5 interleaved rounds, so that
    a noisy neighbour slows both sides of a round alike."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n_slow):
            slow()
        middle = time.perf_counter()
        for _ in range(n_fast):
            fast()
        end = time.perf_counter()
        rounds.append(((middle - start) / n_slow, (end - middle) / n_fast))
    ratios = [s / f for s, f in rounds]
    return (
        statistics.median(s for s, _ in rounds),
        statistics.median(f for _, f in rounds),
        statistics.median(ratios),
    )
