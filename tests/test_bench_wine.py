"""``mlbridge bench wine`` end to end on 50 reviews: every host runs and they all agree.

This is the benchmark's smoke test, not a measurement: it checks that each approach (Python,
multiprocessing, Go direct, Go Batcher, C threads, the in-process limit) starts from its own
process, scores the same reviews, reports its memory, and gives every review the same label.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.bench import wine


@pytest.fixture(scope="module")
def hosts_built() -> None:
    missing = [p for p in (wine.WINEDEMO, wine.C_EXAMPLE) if not p.exists()]
    if missing:
        pytest.skip(f"not built: {', '.join(map(str, missing))} (run `make setup`)")


def test_every_approach_runs_and_agrees_on_labels(
    hosts_built: None, wine_csv: Path, sentiment_model: Path, tmp_path: Path
) -> None:
    settings = wine.Settings(data=wine_csv, n=50, model="small", workers=2)
    results = wine.run(settings, wine.APPROACHES, tmp_path)

    assert [r.approach for r in results] == list(wine.APPROACHES)
    for r in results:
        assert r.positive + r.negative == 50, r
        assert r.seconds > 0 and r.seconds_total > r.seconds, r
        assert r.peak_rss_mb > 100, r  # TensorFlow and a model are resident: not a heap counter
    counts = {(r.positive, r.negative) for r in results}
    assert len(counts) == 1, counts
    by_name = {r.approach: r for r in results}
    # multiprocessing holds a model per worker; the others hold one in one process
    assert by_name["python-multiprocessing"].processes >= 3
    assert by_name["go-batcher"].processes == by_name["c-threads"].processes == 1

    report = json.loads((tmp_path / "wine-small.json").read_text())
    assert [r["approach"] for r in report["results"]] == list(wine.APPROACHES)
    assert report["machine"]["cores"] >= 1
    assert (tmp_path / "wine-small.png").stat().st_size > 10_000
    table = (tmp_path / "wine-small.md").read_text()
    assert table.count("\n") == 2 + len(wine.APPROACHES)


def test_disagreeing_labels_fail_the_run() -> None:
    with pytest.raises(wine.BenchError, match="go-direct disagrees with limit on 1 reviews"):
        wine.check_agreement(
            {"limit": ["POSITIVE", "NEGATIVE"], "go-direct": ["POSITIVE", "POSITIVE"]}, 2
        )
    with pytest.raises(wine.BenchError, match="c-threads labelled 1 reviews, expected 2"):
        wine.check_agreement({"limit": ["POSITIVE", "NEGATIVE"], "c-threads": ["POSITIVE"]}, 2)


def test_a_failing_approach_names_itself(wine_csv: Path, tmp_path: Path) -> None:
    settings = wine.Settings(data=tmp_path / "missing.csv", n=5, model="small", workers=1)
    with pytest.raises(wine.BenchError, match="python-single exited with"):
        wine.run_one("python-single", settings, tmp_path)
