"""Models served from an mly configuration, through the prediction cache.

:data:`MLY` is the ``"mly"`` loader of :data:`bridge.RUNTIME` and :data:`SERVER` its
``"mly-server"`` loader (the HTTP server's configuration); both are registered where that
runtime is built, in :mod:`bridge.runtime`. The heavy parts (TensorFlow, Redis, Aerospike) load
with the first configuration. Importing this package imports neither them nor the runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.mly.loader import MlyLoader

if TYPE_CHECKING:
    from bridge.mly.meta import ServerLoader

MLY = MlyLoader()
"""The ``"mly"`` loader of :data:`bridge.RUNTIME` (its models, datastores and counters)."""


SERVER_TAG = "mly-server"
"""The loader tag of the HTTP server's configuration (:mod:`bridge.mly.meta`)."""


class _LazyServerLoader:
    """:class:`bridge.mly.meta.ServerLoader`, imported (with TensorFlow) on its first load."""

    def __init__(self, mly: MlyLoader) -> None:
        self._mly = mly
        self._real: ServerLoader | None = None

    def _loader(self) -> ServerLoader:
        if self._real is None:
            from bridge.mly.meta import ServerLoader

            self._real = ServerLoader(self._mly)
        return self._real

    def load_file(self, path: Path) -> Mapping[str, Callable[..., Any]]:
        return self._loader().load_file(path)

    def load_memory(self, source: str, name: str) -> Mapping[str, Callable[..., Any]]:
        return self._loader().load_memory(source, name)

    def discard(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        if self._real is not None:
            self._real.discard(functions)

    def clear(self) -> None:
        if self._real is not None:
            self._real.clear()


SERVER = _LazyServerLoader(MLY)
"""The ``"mly-server"`` loader of :data:`bridge.RUNTIME`; its models are :data:`MLY`'s."""


def snapshot() -> dict[str, Any]:
    """Counters of every datastore and model loaded through ``"mly"``."""
    return MLY.snapshot()


__all__ = ["MLY", "SERVER", "SERVER_TAG", "MlyLoader", "snapshot"]
