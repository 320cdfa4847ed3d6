"""Histograms with fixed buckets, read in Prometheus' cumulative form.

The model call's duration and its rows are observed here, on the runtime's side (where the
call happens, for every host's callers), and exported by the HTTP server's collector from the
one snapshot per scrape (``mlbridge_model_call_duration_seconds``, ``mlbridge_model_call_rows``).
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds in seconds (a model call: sub-millisecond for a tiny model, seconds for a
large batch)."""


ROW_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
"""Upper bounds for rows per model call (how well the batching fills a call)."""


class Histogram:
    """Counts of observations per bucket, their sum and count; thread-safe. The default
    buckets are seconds (:data:`BUCKETS`)."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError(f"bucket bounds must be increasing: {buckets}")
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)  # the last one: above every bound
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.buckets, value)  # le: a value equal to a bound is in it
        with self._lock:
            self._counts[i] += 1
            self._sum += value

    def snapshot(self) -> dict[str, Any]:
        """``{"buckets": [bound, …], "cumulative": [n ≤ bound, …], "count": n, "sum": s}``."""
        with self._lock:
            counts = list(self._counts)
            total = self._sum
        cumulative, running = [], 0
        for n in counts[:-1]:
            running += n
            cumulative.append(running)
        return {
            "buckets": list(self.buckets),
            "cumulative": cumulative,
            "count": running + counts[-1],
            "sum": total,
        }
