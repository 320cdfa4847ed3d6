"""The wine quality model: a review's categorical columns and price → its points.

``mlbridge train quality`` trains it from the wine reviews CSV and exports a SavedModel with
Keras 3 (``ExportArchive``), whose lookup layers are named after their inputs
(``country_lookup`` …) so that :mod:`bridge.models.dictionary` finds their vocabularies and the
cache can key on them (``examples/wine_quality.yaml``).

Inputs (shape ``[None, 1]``): ``country``, ``province``, ``variety``, ``winery`` (string) and
``price`` (float32; a missing price is 0). Output: ``points`` (float32).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridge.data import Review, read_reviews, resolve_wine_csv

CATEGORICAL = ("country", "province", "variety", "winery")
NUMERIC = ("price",)
OUTPUT = "points"
DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parents[2] / "build" / "models" / "wine-quality"


def _columns(reviews: Sequence[Review]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        name: [getattr(r, name) for r in reviews] for name in CATEGORICAL
    }
    columns["price"] = [float(r.price) if r.price is not None else 0.0 for r in reviews]
    return columns


def train(
    csv_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] = DEFAULT_OUTPUT_DIR,
    *,
    epochs: int = 3,
    limit: int | None = None,
    seed: int = 7,
    verbose: int = 0,
) -> Path:
    """Train on the CSV and export to ``output_dir``; answers the export directory."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    reviews = read_reviews(csv_path, limit=limit)
    if not reviews:
        raise ValueError(f"{csv_path}: no reviews")
    columns = _columns(reviews)
    inputs: dict[str, Any] = {}
    features = []
    for name in CATEGORICAL:
        vocabulary = sorted({v for v in columns[name] if v})
        inp = keras.Input(shape=(1,), dtype="string", name=name)
        lookup = keras.layers.StringLookup(vocabulary=vocabulary, name=f"{name}_lookup")
        embedded = keras.layers.Embedding(len(vocabulary) + 1, 8, name=f"{name}_embedding")(
            lookup(inp)
        )
        features.append(keras.layers.Flatten(name=f"{name}_flat")(embedded))
        inputs[name] = inp
    price = keras.Input(shape=(1,), dtype="float32", name="price")
    inputs["price"] = price
    normalise = keras.layers.Normalization(name="price_norm")
    normalise.adapt(np.log1p(np.array(columns["price"], dtype="float32")).reshape(-1, 1))
    # log1p inside the graph: prices span two orders of magnitude.
    features.append(normalise(keras.ops.log1p(price)))
    hidden = keras.layers.Dense(32, activation="relu", name="hidden")(
        keras.layers.Concatenate(name="features")(features)
    )
    points = keras.layers.Dense(1, name=OUTPUT)(hidden)
    model = keras.Model(inputs, points, name="wine_quality")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])

    # Keras 3 cannot batch numpy string arrays itself; a tf.data pipeline can.
    x = {name: tf.constant(columns[name], shape=(len(reviews), 1)) for name in CATEGORICAL}
    x["price"] = tf.constant(columns["price"], dtype=tf.float32, shape=(len(reviews), 1))
    y = np.array([r.points for r in reviews], dtype="float32")
    mean_points = float(y.mean())
    data = tf.data.Dataset.from_tensor_slices((x, y - mean_points)).shuffle(len(reviews), seed=seed)
    model.fit(data.batch(64), epochs=epochs, verbose=verbose, shuffle=False)

    out = Path(output_dir)
    archive = keras.export.ExportArchive()
    archive.track(model)
    signature = {
        name: tf.TensorSpec([None, 1], tf.string if name in CATEGORICAL else tf.float32, name=name)
        for name in (*CATEGORICAL, *NUMERIC)
    }

    def serve(features: dict[str, Any]) -> dict[str, Any]:
        return {OUTPUT: model(features, training=False) + mean_points}

    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[signature])
    out.parent.mkdir(parents=True, exist_ok=True)
    archive.write_out(str(out), verbose=False)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlbridge train quality", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="wine reviews CSV (default: MLBRIDGE_WINE_CSV or fetched)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT_DIR), help="export directory")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N reviews")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = train(resolve_wine_csv(args.data), args.output, epochs=args.epochs, limit=args.limit)
    print(f"wine quality model: {out} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
