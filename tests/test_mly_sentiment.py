"""The sentiment model served from an mly configuration: free text as a wildcard key."""

from __future__ import annotations

from pathlib import Path

from bridge.data import read_reviews
from bridge.mly import MlyLoader
from bridge.models import load
from bridge.runtime import Runtime
from support.data import ROOT
from support.mly import write_config

EXAMPLE = ROOT / "examples" / "wine_sentiment.yaml"


def test_sentiment_served_through_the_cache_by_raw_text(
    runtime: Runtime,
    mly_loader: MlyLoader,
    sentiment_model: Path,
    wine_csv: Path,
    tmp_path: Path,
) -> None:
    text = EXAMPLE.read_text().replace("../build/models/sentiment-small", str(sentiment_model))
    runtime.load_from_file("mly", [write_config(tmp_path, text, "wine_sentiment.yaml")])
    reviews = [r.description for r in read_reviews(wine_csv, limit=20)]
    expected = load(sentiment_model).predict({"text": reviews})["positive"]

    first = runtime.call("wine_sentiment.process_batch", [{"text": t} for t in reviews])
    again = [runtime.call("wine_sentiment.eval", {"text": t}) for t in reviews]

    assert [row["positive"] for row in first] == [row["positive"] for row in again]
    for got, want in zip(first, expected, strict=True):
        assert abs(got["positive"] - want) < 1e-5
    counters = mly_loader.snapshot()
    assert counters["models"]["wine_sentiment"]["rows_evaluated"] == len(set(reviews))
    assert counters["datastores"]["sentiment_cache"]["local_hits"] == len(reviews)
    # A review that differs by one character is another key: evaluated, not served stale.
    runtime.call("wine_sentiment.eval", {"text": reviews[0] + "!"})
    assert (
        mly_loader.snapshot()["models"]["wine_sentiment"]["rows_evaluated"] == len(set(reviews)) + 1
    )
