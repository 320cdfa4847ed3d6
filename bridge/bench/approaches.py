"""The Python approaches of the wine benchmark, each run as its own process.

``python -m bridge.bench.approaches MODE --data CSV -n 1000 --labels FILE`` scores the first
``n`` reviews and prints one JSON line in the same shape as the Go ``winedemo`` and the C example
(host, reviews, workers, mode, seconds, seconds_total, peak_rss_mb, positive, negative). Labels
go to ``--labels``, one per line, so the runner can check that every approach agrees.

Each mode loads ``python_scripts/wine_sentiment.py`` the way its users would: plain Python
imports it as a module (the published baseline had no bridge), multiprocessing imports it once
per worker, and ``limit`` calls it once on the whole list.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import statistics
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from bridge.bench.memory import peak_rss_mb
from bridge.data import read_reviews, resolve_wine_csv

SCRIPT = Path(__file__).resolve().parents[2] / "python_scripts" / "wine_sentiment.py"
MODES = ("python-single", "python-multiprocessing", "limit")

Batch = list[str]
Scores = list[dict[str, Any]]


def load_script() -> types.ModuleType:
    """Import the sentiment script as a plain module (it loads its model at import)."""
    spec = importlib.util.spec_from_file_location("wine_sentiment", SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["wine_sentiment"] = module
    spec.loader.exec_module(module)
    return module


def batches(texts: Sequence[str], size: int) -> list[Batch]:
    return [list(texts[i : i + size]) for i in range(0, len(texts), size)]


_worker_batch: Callable[[Batch], Scores] | None = None


def _init_worker() -> None:
    global _worker_batch
    _worker_batch = load_script().process_batch


def _score_in_worker(batch: Batch) -> Scores:
    assert _worker_batch is not None, "worker not initialised"
    return _worker_batch(batch)


def run(
    mode: str,
    texts: Sequence[str],
    batch_size: int,
    workers: int,
    warmup: bool = False,
    passes: int = 1,
) -> tuple[Scores, float]:
    """Score ``texts``; returns the scores and the inference seconds (model load excluded).

    With ``warmup`` the reviews are scored once, untimed, first; the seconds are the median of
    ``passes`` timed passes.
    """
    if mode == "python-multiprocessing":
        # spawn: each worker is a fresh interpreter with its own model, as in the write-up;
        # fork after TensorFlow has started threads is unsafe.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker) as pool:

            def score() -> Scores:
                parts = pool.map(_score_in_worker, batches(texts, batch_size), chunksize=1)
                return [row for part in parts for row in part]

            pool.map(_score_in_worker, [[texts[0]]] * workers)  # wait until all have a model
            return timed(score, warmup, passes)
    process_batch = load_script().process_batch
    if mode == "limit":
        return timed(lambda: process_batch(list(texts)), warmup, passes)
    if mode == "python-single":
        return timed(
            lambda: [row for b in batches(texts, batch_size) for row in process_batch(b)],
            warmup,
            passes,
        )
    raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")


def timed(score: Callable[[], Scores], warmup: bool, passes: int) -> tuple[Scores, float]:
    if warmup:
        score()
    seconds = []
    for _ in range(max(passes, 1)):
        start = time.perf_counter()
        scores = score()
        seconds.append(time.perf_counter() - start)
    return scores, statistics.median(seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.bench.approaches")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--data", help="wine reviews CSV (default: $MLBRIDGE_WINE_CSV)")
    parser.add_argument("-n", type=int, default=1000, help="how many reviews")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--labels", type=Path, help="write one label per line here")
    parser.add_argument(
        "--warmup", action="store_true", help="score once untimed first (steady-state timing)"
    )
    parser.add_argument("--passes", type=int, default=1, help="timed passes; seconds = median")
    args = parser.parse_args(argv)

    texts = [r.description for r in read_reviews(resolve_wine_csv(args.data), limit=args.n)]
    scores, seconds = run(args.mode, texts, args.batch, args.workers, args.warmup, args.passes)
    labels = [row["label"] for row in scores]
    if args.labels:
        args.labels.write_text("".join(f"{label}\n" for label in labels))
    summary = {
        "host": "python",
        "reviews": len(labels),
        "workers": args.workers if args.mode == "python-multiprocessing" else 1,
        "mode": args.mode,
        "seconds": round(seconds, 4),
        "seconds_total": round(time.time() - psutil.Process().create_time(), 4),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "positive": labels.count("POSITIVE"),
        "negative": labels.count("NEGATIVE"),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
