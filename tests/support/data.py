"""Session fixtures for what the tests read: data and models.

- ``wine_csv``: the wine reviews CSV (``MLBRIDGE_WINE_CSV``, or a copy fetched into build/);
  tests that need it are skipped, naming the variable, when there is none.
- ``mly_models``: viant/mly's fixture SavedModels (``MLBRIDGE_MLY_MODELS``), or skipped.
- ``sentiment_model``: ``build/models/sentiment-small``; trained there once if ``make`` has not
  built it yet, so a run trains it at most once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.data import CSV_ENV, FETCHED_PATH, DataError, resolve_wine_csv

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root."""

MLY_ENV = "MLBRIDGE_MLY_MODELS"


@pytest.fixture(scope="session")
def wine_csv() -> Path:
    try:
        return resolve_wine_csv(download=False)
    except DataError:
        pytest.skip(f"{CSV_ENV} is not set and {FETCHED_PATH} does not exist")


@pytest.fixture(scope="session")
def mly_models() -> Path:
    value = os.environ.get(MLY_ENV)
    if not value:
        pytest.skip(f"{MLY_ENV} is not set (the viant/mly fixture models directory)")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"{MLY_ENV}={value} is not a directory")
    return path


@pytest.fixture(scope="session")
def sentiment_model(wine_csv: Path) -> Path:
    from bridge.train.sentiment import default_output_dir, train_sentiment

    model_dir = default_output_dir("small")
    if not (model_dir / "saved_model.pb").is_file():
        train_sentiment("small", wine_csv, model_dir)
    return model_dir
