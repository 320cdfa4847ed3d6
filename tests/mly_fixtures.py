"""Shared fixtures of the cache tests: the mly fixture models and the wine quality model.

conftest.py registers this module as a plugin, so tests use its fixtures by name and import
only its plain helpers (``WINE_ROW``, ``write_config``). The quality model is trained once per
session into pytest's temp dir, with few epochs. ``mly_models`` comes from conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.mly import MlyLoader
from bridge.runtime import Runtime

WINE_ENV = "MLBRIDGE_WINE_CSV"

WINE_ROW = {
    "country": "Italy",
    "province": "Sicily & Sardinia",
    "variety": "White Blend",
    "winery": "Nicosia",
    "price": 15.0,
}


@pytest.fixture(scope="session")
def quality_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wine quality SavedModel, trained once per session (2 epochs, 2,000 reviews)."""
    csv = os.environ.get(WINE_ENV)
    if not csv:
        pytest.skip(f"{WINE_ENV} is not set (the wine reviews CSV)")
    from bridge.train.quality import train

    return train(csv, tmp_path_factory.mktemp("models") / "wine-quality", epochs=2, limit=2000)


@pytest.fixture
def loader() -> Iterator[tuple[Runtime, MlyLoader]]:
    """A private runtime with its own "mly" loader: tests do not share function names."""
    runtime = Runtime()
    mly = MlyLoader()
    runtime.register_loader("mly", mly)
    yield runtime, mly
    mly.close()


def write_config(directory: Path, text: str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
