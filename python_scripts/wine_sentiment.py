"""Wine review sentiment: the functions that every host calls.

Plain Python with no import of ``bridge``: it runs the same under mlbridge, under upstream
MetaCall and as an ordinary module. The model is loaded once, at import, from
``MLBRIDGE_MODEL_DIR`` (default: the repository's ``build/models/sentiment-<size>``, size from
``MLBRIDGE_SENTIMENT_SIZE``, default ``small``; built by ``mlbridge train sentiment``).

- ``process_batch(texts)`` → one ``{"label": "POSITIVE" | "NEGATIVE", "score": float}`` per
  text, in order; the score is the model's confidence in that label (0.5 … 1).
- ``eval(text)`` → the same for one text.

Results are plain ``dict`` / ``str`` / ``float``. Both functions may be called from several
threads at once: the loaded model is only read, and TensorFlow runs it without the GIL.

A long list is run through the model ``MAX_BATCH`` texts at a time: the model's TF-IDF layer
holds a dense row of ``max_tokens`` floats per text, so one call with 100,000 texts would need
tens of GB at once, while chunks keep memory bounded at no cost in time.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path
from typing import Any

import tensorflow as tf

_INPUT = "text"
_OUTPUT = "positive"
MAX_BATCH = 128
"""Texts per model run; longer lists are split (the answer is the same, in one list)."""


def _model_dir() -> Path:
    configured = os.environ.get("MLBRIDGE_MODEL_DIR")
    if configured:
        return Path(configured)
    size = os.environ.get("MLBRIDGE_SENTIMENT_SIZE") or "small"
    return Path(__file__).resolve().parent.parent / "build" / "models" / f"sentiment-{size}"


def _load(model_dir: Path) -> Any:
    if not (model_dir / "saved_model.pb").is_file():
        raise FileNotFoundError(
            f"no sentiment model at {model_dir}: run `mlbridge train sentiment` "
            "(or set MLBRIDGE_MODEL_DIR to an exported model)"
        )
    loaded = tf.saved_model.load(str(model_dir))
    return loaded, loaded.signatures["serving_default"]


MODEL_DIR = _model_dir()
# The loaded object owns the variables; the signature alone would let them be collected.
_LOADED, SERVE = _load(MODEL_DIR)
"""The model's serving signature (tensors in, tensors out); ``process_batch`` calls it."""


def process_batch(texts: list[str]) -> list[dict[str, Any]]:
    """Sentiment of each review text, in order."""
    if texts is None:
        raise TypeError("process_batch expects a list of strings, got None")
    if isinstance(texts, (str, bytes)) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"process_batch expects a list of strings, got {type(texts).__name__}")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {type(text).__name__}, expected str")
    if not texts:
        return []
    try:
        encoded = [t.encode("utf-8") for t in texts]
    except UnicodeEncodeError as exc:
        raise ValueError(f"a text is not valid Unicode: {exc}") from None
    positive: list[float] = []
    for start in range(0, len(encoded), MAX_BATCH):
        # Chunks are cut from the Python list: slicing a tensor is one more TensorFlow op per
        # call (~0.1 ms, a sixth of a one-review call).
        chunk = tf.constant(encoded[start : start + MAX_BATCH], dtype=tf.string)
        positive.extend(SERVE(**{_INPUT: chunk})[_OUTPUT].numpy().reshape(-1).tolist())
    return [
        {"label": "POSITIVE", "score": p} if p >= 0.5 else {"label": "NEGATIVE", "score": 1.0 - p}
        for p in positive
    ]


def eval(text: str) -> dict[str, Any]:  # the name MetaCall examples use
    """Sentiment of one review text."""
    if not isinstance(text, str):
        raise TypeError(f"eval expects a string, got {type(text).__name__}")
    return process_batch([text])[0]
