"""The wine sentiment model: a review's text → is it a good wine?

``mlbridge train sentiment [--size small|large]`` trains a Keras 3 classifier on the wine
reviews and exports a SavedModel that takes raw review strings (the text vectorisation is
inside the model):

- input ``text``: string, shape ``[None]``;
- output ``positive``: float32, shape ``[None, 1]``, the probability that the review is positive.

Labels come from ``points``: positive >= 90, negative <= 85; reviews in between are not used.
A fixed seed drives the split (80 % train, 20 % held out), the initial weights and the data
order, and TensorFlow runs its ops deterministically, so a run on the same data exports the
same model and reports the same accuracy.

Two sizes:

- ``small``: tf-idf of words and word pairs (bigrams) plus the review's length (good wines get
  longer reviews) into one logistic unit. Trains in well under a minute on 2 cores.
- ``large``: the same features beside a Transformer encoder over the word sequence. Its compute
  dominates a call (a few ms per review when called one at a time), as the published
  experiment's DistilBERT did, so that benchmarks have a model whose cost is real.

Accuracy on the held-out split is printed and written to ``metrics.json`` next to the model.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import functools
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bridge.data import REPO_ROOT, read_reviews, resolve_wine_csv

SIZES = ("small", "large")
POSITIVE_MIN_POINTS = 90
NEGATIVE_MAX_POINTS = 85
TEST_FRACTION = 0.2
SEED = 1234
INPUT = "text"
OUTPUT = "positive"
METRICS_FILE = "metrics.json"


def default_output_dir(size: str) -> Path:
    return REPO_ROOT / "build" / "models" / f"sentiment-{size}"


@dataclass(frozen=True)
class Hyper:
    """What differs between the sizes."""

    max_tokens: int = 20000
    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 1e-3
    dropout: float = 0.5
    # Transformer encoder (large only); 0 layers means none.
    encoder_layers: int = 0
    sequence_length: int = 128
    embed_dim: int = 128
    heads: int = 4
    feed_forward: int = 256


HYPER = {
    "small": Hyper(),
    "large": Hyper(epochs=6, encoder_layers=2),
}


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    labels: list[int]  # 1 positive, 0 negative


@dataclass(frozen=True)
class TrainResult:
    size: str
    model_dir: str
    accuracy: float
    train_examples: int
    test_examples: int
    seconds: float
    seed: int
    data_sha256: str | None = None


def label_of(points: int) -> int | None:
    """1 for a positive review, 0 for a negative one, None for the middle we do not train on."""
    if points >= POSITIVE_MIN_POINTS:
        return 1
    if points <= NEGATIVE_MAX_POINTS:
        return 0
    return None


def labelled_reviews(csv_path: str | os.PathLike[str]) -> Labelled:
    texts: list[str] = []
    labels: list[int] = []
    for review in read_reviews(csv_path):
        label = label_of(review.points)
        if label is not None and review.description:
            texts.append(review.description)
            labels.append(label)
    if not texts or len(set(labels)) < 2:
        raise ValueError(f"{csv_path}: needs both positive and negative reviews to train on")
    return Labelled(texts, labels)


def split(data: Labelled, seed: int = SEED) -> tuple[Labelled, Labelled]:
    """A seeded shuffle, then the first 20 % held out: (train, test)."""
    order = list(range(len(data.texts)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * TEST_FRACTION)

    def pick(indices: list[int]) -> Labelled:
        return Labelled([data.texts[i] for i in indices], [data.labels[i] for i in indices])

    return pick(order[cut:]), pick(order[:cut])


def train_sentiment(
    size: str = "small",
    data: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = SEED,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train the ``size`` model on the wine reviews and export it (see the module doc)."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r} (choose from {', '.join(SIZES)})")
    from bridge.data import sha256_of

    started = time.perf_counter()
    csv_path = resolve_wine_csv(data)
    train, test = split(labelled_reviews(csv_path), seed)
    log(f"training sentiment-{size} on {len(train.texts)} reviews ({csv_path})")
    model = _fit(size, HYPER[size], train, seed, log)
    accuracy = _accuracy(model, test)
    model_dir = Path(out) if out is not None else default_output_dir(size)
    _export(model, model_dir)
    result = TrainResult(
        size=size,
        model_dir=str(model_dir),
        accuracy=round(accuracy, 4),
        train_examples=len(train.texts),
        test_examples=len(test.texts),
        seconds=round(time.perf_counter() - started, 1),
        seed=seed,
        data_sha256=sha256_of(csv_path),
    )
    (model_dir / METRICS_FILE).write_text(json.dumps(asdict(result), indent=2) + "\n")
    log(
        f"sentiment-{size}: held-out accuracy {result.accuracy:.4f} on {result.test_examples} "
        f"reviews; trained in {result.seconds:.1f} s; exported to {model_dir}"
    )
    return result


def _fit(size: str, hyper: Hyper, train: Labelled, seed: int, log: Callable[[str], None]) -> Any:
    """Fit on features computed once, then wrap the same layers into a string-input model."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    texts = tf.constant(train.texts)
    labels = np.array(train.labels, dtype="float32")

    tfidf = keras.layers.TextVectorization(
        max_tokens=hyper.max_tokens, ngrams=2, output_mode="tf_idf", name="tfidf"
    )
    tfidf.adapt(texts)
    word_count = word_count_layer(name="word_count")
    counts = word_count(texts).numpy()
    length = keras.layers.Normalization(name="length_norm")
    length.adapt(counts)

    features: dict[str, Any] = {"bag": tfidf(texts).numpy(), "length": counts}
    feature_inputs = {
        "bag": keras.Input(shape=(features["bag"].shape[1],), name="bag"),
        "length": keras.Input(shape=(1,), name="length"),
    }
    parts = [
        keras.layers.Dropout(hyper.dropout, name="bag_dropout")(feature_inputs["bag"]),
        length(feature_inputs["length"]),
    ]
    tokens: Any = None
    if hyper.encoder_layers:
        tokens = keras.layers.TextVectorization(
            max_tokens=hyper.max_tokens,
            output_mode="int",
            output_sequence_length=hyper.sequence_length,
            name="tokens",
        )
        tokens.adapt(texts)
        features["ids"] = tokens(texts).numpy()
        feature_inputs["ids"] = keras.Input(shape=(hyper.sequence_length,), name="ids")
        parts.append(_encoder(hyper, feature_inputs["ids"]))

    joined = keras.layers.Concatenate(name="features")(parts)
    positive = keras.layers.Dense(1, activation="sigmoid", name=OUTPUT)(joined)
    head = keras.Model(feature_inputs, positive, name=f"sentiment_{size}_head")
    head.compile(
        optimizer=keras.optimizers.Adam(hyper.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    head.fit(
        features,
        labels,
        epochs=hyper.epochs,
        batch_size=hyper.batch_size,
        shuffle=True,
        verbose=2 if size == "large" else 0,
    )

    text = keras.Input(shape=(), dtype="string", name=INPUT)
    served = {"bag": tfidf(text), "length": word_count(text)}
    if tokens is not None:
        served["ids"] = tokens(text)
    return keras.Model(text, head(served), name=f"sentiment_{size}")


def _encoder(hyper: Hyper, ids: Any) -> Any:
    """A small Transformer encoder (post-norm, learned positions) pooled to one vector."""
    import keras

    x = keras.layers.Embedding(hyper.max_tokens, hyper.embed_dim, name="token_embedding")(ids)
    x = position_embedding(hyper.sequence_length, hyper.embed_dim, name="position_embedding")(x)
    for i in range(hyper.encoder_layers):
        attended = keras.layers.MultiHeadAttention(
            num_heads=hyper.heads, key_dim=hyper.embed_dim // hyper.heads, name=f"attention_{i}"
        )(x, x)
        x = keras.layers.LayerNormalization(name=f"attention_norm_{i}")(x + attended)
        ff = keras.layers.Dense(hyper.feed_forward, activation="gelu", name=f"ff_in_{i}")(x)
        ff = keras.layers.Dense(hyper.embed_dim, name=f"ff_out_{i}")(ff)
        x = keras.layers.LayerNormalization(name=f"ff_norm_{i}")(x + ff)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.layers.Dropout(0.2, name="encoder_dropout")(pooled)


def _accuracy(model: Any, test: Labelled) -> float:
    import numpy as np
    import tensorflow as tf

    scores = model.predict(tf.constant(test.texts), batch_size=256, verbose=0).reshape(-1)
    predicted = (scores >= 0.5).astype("int64")
    return float(np.mean(predicted == np.array(test.labels)))


def _export(model: Any, model_dir: Path) -> None:
    """Export the serving signature ``text`` → ``positive``, replacing an earlier export."""
    import keras
    import tensorflow as tf

    staging = model_dir.with_name(model_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(text: Any) -> dict[str, Any]:
        return {OUTPUT: model(text, training=False)}

    archive.add_endpoint(
        name="serving_default",
        fn=serve,
        input_signature=[tf.TensorSpec([None], tf.string, name=INPUT)],
    )
    archive.write_out(str(staging), verbose=False)
    # A reader never sees half a model: the old one goes only once the new one is complete.
    shutil.rmtree(model_dir, ignore_errors=True)
    staging.rename(model_dir)


@functools.cache
def _keras_layers() -> tuple[Any, Any]:
    """The two custom layers, defined once Keras is imported (it is heavy; the CLI is not)."""
    import keras
    import tensorflow as tf

    class WordCountLayer(keras.layers.Layer):  # type: ignore[misc]
        """log(1 + number of words), one float per text."""

        def call(self, text: Any) -> Any:
            words = tf.strings.split(text)
            count = tf.cast(words.row_lengths(), tf.float32)
            return tf.expand_dims(tf.math.log1p(count), -1)

        def compute_output_shape(self, input_shape: Any) -> tuple[Any, int]:
            return (input_shape[0], 1)

    class PositionEmbeddingLayer(keras.layers.Layer):  # type: ignore[misc]
        """Adds a learned embedding of each position."""

        def __init__(self, length: int, dim: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.positions = keras.layers.Embedding(length, dim)
            self.length = length

        def call(self, x: Any) -> Any:
            return x + self.positions(keras.ops.arange(self.length))

    return WordCountLayer, PositionEmbeddingLayer


def word_count_layer(**kwargs: Any) -> Any:
    return _keras_layers()[0](**kwargs)


def position_embedding(length: int, dim: int, **kwargs: Any) -> Any:
    return _keras_layers()[1](length, dim, **kwargs)


# -- command line ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=SIZES, default="small", help="model size (small)")
    parser.add_argument("--data", help="wine reviews CSV (default: MLBRIDGE_WINE_CSV or fetched)")
    parser.add_argument("--out", help="export directory (default: build/models/sentiment-SIZE)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed ({SEED})")


def run(args: argparse.Namespace) -> int:
    train_sentiment(args.size, args.data, args.out, seed=args.seed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlbridge train sentiment", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
