"""Registers the shared fixtures of ``tests/support/`` (see its ``__init__``)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any test module imports TensorFlow

pytest_plugins = [
    "support.data",
    "support.mly",
    "support.redis_server",
    "support.runtime",
    "support.speed",
]
