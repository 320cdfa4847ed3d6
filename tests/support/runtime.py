"""Runtimes for tests, so that no test depends on (or leaves functions in) ``bridge.RUNTIME``.

- ``runtime``: a fresh :class:`~bridge.runtime.Runtime` with the default loaders (``"py"`` and
  the ``mly_loader`` of :mod:`support.mly`), cleared after the test.
- ``bridge_runtime``: that ``runtime`` installed as ``bridge.RUNTIME`` for the test, for tests of
  the module-level API (``bridge.call``, ``bridge.load_from_file``).
- ``sentiment_runtime``: one runtime per session with ``python_scripts/wine_sentiment.py``
  loaded on ``sentiment_model`` (loading TensorFlow and the model once is what makes it
  per session); ``sentiment_script`` is that script's module.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import bridge
from bridge.mly import MlyLoader
from bridge.runtime import Runtime
from support.data import ROOT

SENTIMENT_SCRIPT = ROOT / "python_scripts" / "wine_sentiment.py"


@pytest.fixture
def runtime(mly_loader: MlyLoader) -> Iterator[Runtime]:
    fresh = Runtime()
    fresh.register_loader("mly", mly_loader)
    yield fresh
    fresh.clear()


@pytest.fixture
def bridge_runtime(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setattr(bridge, "RUNTIME", runtime)
    return runtime


@pytest.fixture(scope="session")
def sentiment_runtime(sentiment_model: Path) -> Runtime:
    loaded = Runtime()
    previous = os.environ.get("MLBRIDGE_MODEL_DIR")
    os.environ["MLBRIDGE_MODEL_DIR"] = str(sentiment_model)
    try:
        loaded.load_from_file("py", [str(SENTIMENT_SCRIPT)])
    finally:
        if previous is None:
            del os.environ["MLBRIDGE_MODEL_DIR"]
        else:
            os.environ["MLBRIDGE_MODEL_DIR"] = previous
    return loaded


@pytest.fixture(scope="session")
def sentiment_script(sentiment_runtime: Runtime, sentiment_model: Path) -> types.ModuleType:
    module = sys.modules[sentiment_runtime.function("process_batch").callable.__module__]
    assert Path(module.MODEL_DIR) == sentiment_model
    return module
