"""``mlbridge bench wine``: the published experiment, every approach side by side.

Each approach runs as its own OS process, one after another, on the same reviews and the same
model. The runner measures what the approaches cannot measure about themselves: the wall time
from spawn to exit (``seconds_total``) and the memory of the whole process tree, sampled from
the OS (peak of summed RSS, peak of summed PSS). The approach reports its inference time and
writes its labels; the run fails if any approach disagrees with the others.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WINEDEMO = REPO / "build" / "bin" / "winedemo"
C_EXAMPLE = REPO / "build" / "bin" / "wine_sentiment"
# The Batcher gathers up to 32 single reviews per process_batch call (the batch size of the
# other approaches), two calls in flight so that one batch's Python work overlaps the other's
# TensorFlow kernels. Larger batches were no faster for these models, measured, and cost
# memory: the small model's tf-idf matrix and the large model's activations grow with them.
BATCHER_FLAGS = ("-batch", "32", "-dispatchers", "2", "-wait", "2ms")
APPROACHES = (
    "python-single",
    "python-multiprocessing",
    "go-direct",
    "go-batcher",
    "c-threads",
    "limit",
)


class BenchError(Exception):
    """An approach failed, or the approaches disagree."""


@dataclass(frozen=True)
class Settings:
    data: Path
    n: int
    model: str
    workers: int
    batch: int = 32
    passes: int = 5


@dataclass(frozen=True)
class Result:
    approach: str
    seconds: float  # inference only, as the approach measured it
    seconds_total: float  # spawn to exit, measured by the runner
    reviews_per_second: float
    peak_rss_mb: float  # whole process tree: the larger of sampled sum and the process's VmHWM
    peak_pss_mb: float
    processes: int
    positive: int
    negative: int


def command(approach: str, s: Settings, labels: Path) -> list[str]:
    """The command line of one approach. Every approach scores the reviews once untimed
    (warm-up: TensorFlow's first-call costs), then ``passes`` times timed (its seconds: the
    median), and writes its labels."""
    passes = str(s.passes)
    py = [sys.executable, "-m", "bridge.bench.approaches", approach, "--warmup"]
    py += ["--passes", passes, "--data", str(s.data), "-n", str(s.n), "--batch", str(s.batch)]
    py += ["--labels", str(labels)]
    go = [str(WINEDEMO), "-warmup", "-passes", passes, "-data", str(s.data), "-n", str(s.n)]
    go += ["-labels", str(labels)]
    match approach:
        case "python-single" | "limit":
            return py
        case "python-multiprocessing":
            return [*py, "--workers", str(s.workers)]
        case "go-direct":
            return [*go, "-mode", "direct", "-workers", str(s.workers), "-batch", str(s.batch)]
        case "go-batcher":  # one goroutine per review, each submitting one review
            return [*go, "-mode", "batcher", "-workers", str(s.n), *BATCHER_FLAGS]
        case "c-threads":
            return [
                str(C_EXAMPLE), "-warmup", "-passes", passes, "-n", str(s.n),
                "-threads", str(s.workers),
                "-batch", str(s.batch), "-labels", str(labels), str(s.data),
            ]  # fmt: skip
    raise BenchError(f"unknown approach {approach!r}")


def environment(s: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLBRIDGE_MODEL_DIR", None)  # --model chooses the model, whatever the shell says
    env["MLBRIDGE_SENTIMENT_SIZE"] = s.model
    env["LOADER_SCRIPT_PATH"] = str(REPO / "python_scripts")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_one(approach: str, s: Settings, workdir: Path) -> tuple[Result, list[str]]:
    from bridge.bench.memory import TreeSampler  # psutil: the [bench] extra

    labels_path = workdir / f"{approach}.labels"
    cmd = command(approach, s, labels_path)
    if not Path(cmd[0]).exists():
        raise BenchError(f"{approach}: {cmd[0]} is not built (run `make setup`)")
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=environment(s), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with TreeSampler(proc.pid) as sampler:
        out, err = proc.communicate()
    total = time.perf_counter() - start
    peak = sampler.peak
    if proc.returncode != 0:
        raise BenchError(f"{approach} exited with {proc.returncode}:\n{err[-2000:]}")
    summary = _last_json_line(approach, out)
    labels = labels_path.read_text().split()
    seconds = float(summary["seconds"])
    result = Result(
        approach=approach,
        seconds=seconds,
        seconds_total=round(total, 3),
        reviews_per_second=round(len(labels) / seconds, 1) if seconds > 0 else 0.0,
        peak_rss_mb=round(max(peak.rss_mb, float(summary.get("peak_rss_mb", 0))), 1),
        peak_pss_mb=round(peak.pss_mb, 1),
        processes=peak.processes,
        positive=int(summary["positive"]),
        negative=int(summary["negative"]),
    )
    return result, labels


def _last_json_line(approach: str, out: str) -> dict[str, Any]:
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise BenchError(f"{approach} printed no JSON summary:\n{out[-2000:]}")


def check_agreement(all_labels: dict[str, list[str]], n: int) -> None:
    """Every approach must give the same label to every review."""
    items = list(all_labels.items())
    ref_name, ref = items[0]
    for name, labels in items:
        if len(labels) != n:
            raise BenchError(f"{name} labelled {len(labels)} reviews, expected {n}")
        diff = [i for i, (a, b) in enumerate(zip(ref, labels, strict=True)) if a != b]
        if diff:
            raise BenchError(
                f"{name} disagrees with {ref_name} on {len(diff)} reviews (first: #{diff[0]})"
            )


def markdown_table(results: Sequence[Result]) -> str:
    by_name = {r.approach: r for r in results}
    base = by_name.get("python-single")
    head = (
        "| approach | inference s | total s | reviews/s | peak RSS MB | peak PSS MB "
        "| processes | time vs python-single |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for r in results:
        ratio = f"{r.seconds / base.seconds:.2f}x" if base and base.seconds > 0 else "-"
        rows.append(
            f"| {r.approach} | {r.seconds:.3f} | {r.seconds_total:.1f} "
            f"| {r.reviews_per_second:.0f} | {r.peak_rss_mb:.0f} | {r.peak_pss_mb:.0f} "
            f"| {r.processes} | {ratio} |"
        )
    return head + "\n".join(rows) + "\n"


def machine() -> dict[str, Any]:
    import psutil  # the [bench] extra

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def chart(results: Sequence[Result], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.approach for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    left.barh(names, [r.seconds for r in results], color="#4c72b0")
    left.set_xlabel("inference seconds (lower is better)")
    right.barh(names, [r.peak_pss_mb for r in results], color="#dd8452", label="PSS")
    right.barh(names, [r.peak_rss_mb for r in results], fill=False, edgecolor="#444", label="RSS")
    right.set_xlabel("peak memory of the process tree, MB")
    right.legend(loc="upper right")
    left.invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(s: Settings, approaches: Sequence[str], out_dir: Path) -> list[Result]:
    results: list[Result] = []
    all_labels: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="mlbridge-bench-") as tmp:
        for i, approach in enumerate(approaches, 1):
            print(f"[{i}/{len(approaches)}] {approach} ...", file=sys.stderr, flush=True)
            result, labels = run_one(approach, s, Path(tmp))
            print(
                f"      {result.seconds:.2f} s inference, {result.peak_rss_mb:.0f} MB RSS",
                file=sys.stderr,
                flush=True,
            )
            results.append(result)
            all_labels[approach] = labels
    check_agreement(all_labels, min(s.n, len(next(iter(all_labels.values())))))
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"wine-{s.model}"
    report: dict[str, Any] = {
        "settings": {**asdict(s), "data": str(s.data)},
        "machine": machine(),
        "results": [asdict(r) for r in results],
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown_table(results)
    (out_dir / f"{stem}.md").write_text(table)
    m = report["machine"]
    chart(
        results,
        f"{s.n} wine reviews, {s.model} model, {m['cores']} cores / {m['memory_gib']} GiB",
        out_dir / f"{stem}.png",
    )
    print(table)
    return results
