"""Models served from an mly configuration, through the prediction cache.

Importing :mod:`bridge` registers :data:`MLY` as the runtime's ``"mly"`` loader; the heavy
parts (TensorFlow, Redis, Aerospike) load with the first configuration.
"""

from __future__ import annotations

from typing import Any

from bridge.mly.loader import MlyLoader
from bridge.runtime import RUNTIME, Runtime

MLY = MlyLoader()
"""The loader registered with :data:`bridge.RUNTIME`."""


def register(runtime: Runtime = RUNTIME, loader: MlyLoader = MLY) -> None:
    runtime.register_loader("mly", loader)


def snapshot() -> dict[str, Any]:
    """Counters of every datastore and model loaded through ``"mly"``."""
    return MLY.snapshot()


__all__ = ["MLY", "MlyLoader", "register", "snapshot"]
