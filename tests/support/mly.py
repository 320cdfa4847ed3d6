"""What the tests of the ``"mly"`` loader share.

- ``mly_loader``: the :class:`~bridge.mly.MlyLoader` of the ``runtime`` fixture (ask for both
  to load through the runtime and read the loader's services and counters).
- ``quality_model``: the wine quality SavedModel, trained once per session into pytest's temp
  dir with few epochs.
- ``wine``: the ``runtime`` fixture serving ``examples/wine_quality.yaml`` on ``quality_model``
  and the same model uncached as ``wine_uncached``.
- ``write_config``, ``example_config``, ``redis_example_config``, ``cached_model_config``,
  ``colour_model``, ``swap_in`` and ``WINE_ROW``: plain helpers, imported.

mly's own fixture models are ``mly_models`` (:mod:`support.data`).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.mly import MlyLoader
from bridge.runtime import Runtime
from support.data import ROOT

WINE_ROW = {
    "country": "Italy",
    "province": "Sicily & Sardinia",
    "variety": "White Blend",
    "winery": "Nicosia",
    "price": 15.0,
}


@pytest.fixture(scope="session")
def quality_model(wine_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wine quality SavedModel, trained once per session (2 epochs, 2,000 reviews)."""
    from bridge.train.quality import train

    return train(wine_csv, tmp_path_factory.mktemp("models") / "wine-quality", epochs=2, limit=2000)


@pytest.fixture
def mly_loader() -> Iterator[MlyLoader]:
    """A loader of its own: tests share no models, datastores or counters."""
    loader = MlyLoader()
    yield loader
    loader.close()


def write_config(directory: Path, text: str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def example_config(name: str, model: Path, directory: Path, **replace: str) -> Path:
    """``examples/<name>`` written into ``directory``, on ``model``, with each regular
    expression in ``replace`` substituted."""
    text = (ROOT / "examples" / name).read_text()
    text = text.replace("../build/models/wine-quality", str(model))
    for old, new in replace.items():
        text = re.sub(old, new, text)
    return write_config(directory, text, name)


def redis_example_config(model: Path, directory: Path, port: int, **replace: str) -> Path:
    """``examples/wine_quality_redis.yaml`` (see :func:`example_config`) pointed at the Redis
    server on ``port``."""
    return example_config(
        "wine_quality_redis.yaml", model, directory, **{r"Port: 6379": f"Port: {port}", **replace}
    )


@pytest.fixture
def wine(runtime: Runtime, quality_model: Path, tmp_path: Path) -> Runtime:
    """``runtime`` serving the wine quality example and ``wine_uncached`` (no datastore)."""
    runtime.load_from_file("mly", [example_config("wine_quality.yaml", quality_model, tmp_path)])
    uncached = write_config(
        tmp_path, f"Models: [{{ID: wine_uncached, URL: {quality_model}}}]", "uncached.yaml"
    )
    runtime.load_from_file("mly", [uncached])
    return runtime


def cached_model_config(directory: Path, mly_models: Path, model_id: str = "sli") -> Path:
    """A configuration serving mly's ``string_lookups_int_model`` as ``model_id`` through a
    memory datastore ``mem`` (``{"sa": "a", "sl": "a"}`` → ``{"expand": 25}``)."""
    text = f"""
Models: [{{ID: {model_id}, URL: {mly_models}/string_lookups_int_model, DataStore: mem}}]
Datastores: [{{ID: mem, Cache: {{SizeMB: 1}}}}]
"""
    return write_config(directory, text, f"{model_id}.yaml")


def colour_model(path: Path, vocabulary: list[str]) -> Path:
    """A tiny Keras SavedModel with one lookup input, ``colour``: two vocabularies give two
    dictionary hashes (reload tests)."""
    import keras

    colour = keras.Input(shape=(1,), dtype="string", name="colour")
    index = keras.layers.StringLookup(vocabulary=vocabulary, name="colour_lookup")(colour)
    out = keras.layers.Dense(1, name="score")(keras.ops.cast(index, "float32"))
    keras.Model({"colour": colour}, out).export(str(path), verbose=False)
    return path


def swap_in(source: Path, url: Path) -> float:
    """Replace ``url`` by a copy of ``source``, staged beside it and renamed in; returns when."""
    staged = url.with_name(url.name + ".staged")
    shutil.copytree(source, staged)
    old = url.with_name(url.name + ".old")
    url.rename(old)
    staged.rename(url)
    at = time.monotonic()
    shutil.rmtree(old)
    return at
