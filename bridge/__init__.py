"""mlbridge: one embedded Python runtime serving ML functions to Go, C, Python and HTTP.

The module-level functions below are the runtime API every host goes through::

    import bridge
    bridge.load_from_file("py", ["wine_sentiment.py"])
    bridge.call("process_batch", ["Ripe and juicy."])
"""

from __future__ import annotations

from typing import Any

from bridge.errors import (
    ArgumentError,
    BridgeError,
    CallError,
    DuplicateFunctionError,
    ExceptionInfo,
    FunctionNotFoundError,
    LoaderNotFoundError,
    LoadError,
    describe_exception,
)
from bridge.runtime import RUNTIME, Function, Handle, Loader, Runtime

__all__ = [
    "RUNTIME",
    "ArgumentError",
    "BridgeError",
    "CallError",
    "DuplicateFunctionError",
    "ExceptionInfo",
    "Function",
    "FunctionNotFoundError",
    "Handle",
    "LoadError",
    "Loader",
    "LoaderNotFoundError",
    "Runtime",
    "call",
    "describe_exception",
    "function",
    "inspect",
    "load_from_file",
    "load_from_memory",
]


def load_from_file(tag: str, paths: list[str] | str) -> Handle:
    """Load scripts (``"py"``) or model configurations (``"mly"``); relative paths are looked up
    in ``LOADER_SCRIPT_PATH`` (``:``-separated, default the working directory)."""
    return RUNTIME.load_from_file(tag, paths)


def load_from_memory(tag: str, source: str, name: str | None = None) -> Handle:
    """Load a script from its source text."""
    return RUNTIME.load_from_memory(tag, source, name)


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call a loaded function by name; an exception it raises comes back as :class:`CallError`."""
    return RUNTIME.call(name, *args, **kwargs)


def function(name: str) -> Function:
    """The loaded function ``name`` (raises :class:`FunctionNotFoundError`)."""
    return RUNTIME.function(name)


def inspect() -> dict[str, list[dict[str, Any]]]:
    """Every loaded function with its parameter names and annotations, grouped as MetaCall."""
    return RUNTIME.inspect()
