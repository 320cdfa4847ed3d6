"""mlbridge train sentiment and the mlbridge command: labels, split, the reported accuracy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import cli
from bridge.data import sha256_of
from bridge.models import SavedModel
from bridge.train import sentiment
from bridge.train.sentiment import Labelled, label_of, labelled_reviews, split

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("points", "label"),
    [(100, 1), (90, 1), (89, None), (86, None), (85, 0), (80, 0)],
)
def test_label_of_points(points: int, label: int | None) -> None:
    assert label_of(points) == label


def test_split_is_seeded_disjoint_and_complete() -> None:
    data = Labelled([f"review {i}" for i in range(100)], [i % 2 for i in range(100)])
    train, test = split(data, seed=7)
    assert len(test.texts) == 20 and len(train.texts) == 80
    assert set(train.texts).isdisjoint(test.texts)
    assert sorted(train.texts + test.texts) == sorted(data.texts)
    assert split(data, seed=7) == (train, test)
    assert split(data, seed=8) != (train, test)


def test_only_clear_reviews_are_labelled(wine_csv: Path) -> None:
    data = labelled_reviews(wine_csv)
    # 2,778 reviews with >= 90 points, 1,547 with <= 85 in the project's file
    assert (data.labels.count(1), data.labels.count(0)) == (2778, 1547)


def test_small_model_reports_its_held_out_accuracy(sentiment_model: Path, wine_csv: Path) -> None:
    metrics = json.loads((sentiment_model / sentiment.METRICS_FILE).read_text())
    assert metrics["size"] == "small"
    assert metrics["accuracy"] >= 0.92
    assert metrics["data_sha256"] == sha256_of(wine_csv)
    # the figure is the model's: recompute it on the same held-out split
    _, test = split(labelled_reviews(wine_csv), metrics["seed"])
    assert metrics["test_examples"] == len(test.texts)
    scores = SavedModel(sentiment_model).predict({"text": test.texts})["positive"]
    correct = sum((s >= 0.5) == bool(label) for s, label in zip(scores, test.labels, strict=True))
    assert correct / len(test.texts) == pytest.approx(metrics["accuracy"], abs=2e-3)


def test_cli_train_sentiment_arguments() -> None:
    args = cli.build_parser().parse_args(
        ["train", "sentiment", "--size", "large", "--data", "x.csv", "--out", "m"]
    )
    assert (args.size, args.data, args.out) == ("large", "x.csv", "m")
    assert args.run is sentiment.run
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "sentiment", "--size", "huge"])


def test_cli_data_prints_the_path(wine_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "--data", str(wine_csv)]) == 0
    assert capsys.readouterr().out.strip() == str(wine_csv.resolve())


def test_cli_data_missing_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["data", "--data", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err


def test_cli_demo_without_model_says_to_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLBRIDGE_MODEL_DIR", str(tmp_path))
    assert cli.main(["demo"]) == 1
    assert "run `mlbridge train sentiment" in capsys.readouterr().err


def test_cli_demo_runs_the_script(sentiment_model: Path, wine_csv: Path) -> None:
    # Its own process: the demo loads the script into the process-wide runtime.
    env = {**os.environ, "MLBRIDGE_MODEL_DIR": str(sentiment_model)}
    done = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "demo", "-n", "40", "--data", str(wine_csv)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = next(line for line in done.stdout.splitlines() if line.startswith("reviews:"))
    counts = dict(zip(summary.split()[::2], summary.split()[1::2], strict=True))
    assert counts["reviews:"] == "40"
    assert int(counts["positive:"]) + int(counts["negative:"]) == 40
