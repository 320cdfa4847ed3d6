"""``mlbridge bench wine``: the side-by-side wine benchmark (see :mod:`bridge.bench.wine`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bridge.bench import wine
from bridge.bench.wine import APPROACHES, REPO, BenchError, Settings
from bridge.data import resolve_wine_csv
from bridge.train.sentiment import default_output_dir

BENCH_EXTRA = ("psutil", "matplotlib")
"""What the benchmarks need and the runtime does not (``pip install -e '.[bench]'``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("benchmark", choices=("wine",), help="which benchmark (wine)")
    parser.add_argument("--data", help="wine reviews CSV (default: MLBRIDGE_WINE_CSV)")
    parser.add_argument("-n", type=int, default=1000, help="how many reviews (1000)")
    parser.add_argument("--model", choices=("small", "large"), default="small")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes, goroutines or threads for the concurrent approaches (cores)",
    )
    parser.add_argument(
        "--passes", type=int, default=5, help="timed passes per approach; its time is the median"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=APPROACHES,
        help="run just this approach (repeatable; default: all of them)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results", help="where results go"
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings(
        data=resolve_wine_csv(args.data),
        n=args.n,
        model=args.model,
        workers=args.workers,
        passes=args.passes,
    )
    model = default_output_dir(args.model) / "saved_model.pb"
    if not model.is_file():
        hint = f"mlbridge train sentiment --size {args.model}"
        print(f"mlbridge bench: no {args.model} sentiment model; run `{hint}` first")
        return 1
    try:
        wine.run(settings, args.only or APPROACHES, args.out)
    except BenchError as exc:
        print(f"mlbridge bench: {exc}")
        return 1
    except ModuleNotFoundError as exc:
        if exc.name not in BENCH_EXTRA:
            raise
        print(f"mlbridge bench: {exc}; install the [bench] extra (`make bench` does)")
        return 1
    return 0
