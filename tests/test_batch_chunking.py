"""Long inputs run through the model in chunks (issue #14, item 13): memory is bounded by the
chunk, the answer is the one a single run gives. Small here; the 20,000-review peak-RSS
measurement is in the README's "Limits"."""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.data import read_reviews
from bridge.models import SavedModel


@pytest.fixture(scope="module")
def texts(wine_csv: Path) -> list[str]:
    return [r.description for r in read_reviews(wine_csv, limit=23)]


def recording(function: Callable[..., Any], sizes: list[int]) -> Callable[..., Any]:
    """``function`` (called with tensors by name, or with one dict of them) noting batch sizes."""

    def run(tensors: Any = None, **named: Any) -> Any:
        batch = named if tensors is None else tensors
        sizes.append(max(int(t.shape[0]) for t in batch.values()))
        return function(**named) if tensors is None else function(tensors)

    return run


def test_wine_script_runs_long_lists_in_chunks(
    sentiment_script: types.ModuleType, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = sentiment_script.process_batch(texts)
    sizes: list[int] = []
    monkeypatch.setattr(sentiment_script, "MAX_BATCH", 5)
    monkeypatch.setattr(sentiment_script, "SERVE", recording(sentiment_script.SERVE, sizes))
    chunked = sentiment_script.process_batch(texts)
    assert sizes == [5, 5, 5, 5, 3]
    assert [c["label"] for c in chunked] == [w["label"] for w in whole]
    assert [c["score"] for c in chunked] == pytest.approx([w["score"] for w in whole], abs=1e-5)


def test_savedmodel_predicts_long_batches_in_chunks(
    sentiment_model: Path, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = SavedModel(sentiment_model, max_batch=len(texts))
    chunked = SavedModel(sentiment_model, max_batch=4)
    sizes: list[int] = []
    # predict_tensors: what predict calls once per chunk
    monkeypatch.setattr(chunked, "predict_tensors", recording(chunked.predict_tensors, sizes))
    expected = whole.predict({"text": texts})
    answer = chunked.predict({"text": texts})
    assert sizes == [4, 4, 4, 4, 4, 3]
    assert list(answer) == list(expected)
    assert answer["positive"] == pytest.approx(expected["positive"], abs=1e-5)
    assert chunked.predict({"text": []}) == {"positive": []}


def test_max_batch_must_be_positive(sentiment_model: Path) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        SavedModel(sentiment_model, max_batch=0)
