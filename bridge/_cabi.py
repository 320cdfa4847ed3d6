"""The Python half of the C shim (``libmetacall.so``, built from ``c_shim/``).

cffi's embedding init code imports this module the first time a C host calls into the
library. It implements the shim's ``extern "Python"`` entry points, none of which is on the hot
path: starting, loading, clearing, and the benchmark floors. Calls and value conversion are C
code (``c_shim/src``) that reaches :data:`bridge.RUNTIME` through the CPython API.

Each entry point returns 1 on success and 0 on failure (cffi answers 0 when no Python code is
attached, e.g. when this module failed to import), and records the reason of a failure with
``lib.mlbridge_record_error`` so that C reads it with ``metacall_error_last``.

**This is the one module the C side reads Python names from.** ``c_shim/src/runtime.c``
imports ``bridge._cabi`` when the runtime starts and reads the names in the section "What the
C shim reads" below (objects, and the attribute names it then uses on every call); it imports
no other module of ours and spells no other attribute of ours. Renaming something they point
at means changing it here; ``tests/test_cabi.py`` checks that each one still resolves. (The
shim also uses the standard names ``tolist`` of numpy and ``add_done_callback``,
``exception`` and ``result`` of ``concurrent.futures.Future``.)
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any

from _mlbridge_cffi import ffi, lib

from bridge import handles, versions
from bridge.errors import describe_exception
from bridge.runtime import RUNTIME


def _text(value: Any, size: int = -1) -> str:
    """A C string argument as ``str``; invalid UTF-8 raises ``UnicodeDecodeError``."""
    raw: bytes = ffi.string(value) if size < 0 else ffi.string(value, size)
    return raw.decode("utf-8")


def _record(exc: BaseException) -> None:
    info = describe_exception(exc)
    lib.mlbridge_record_error(
        info.type_name.encode("utf-8", "replace"),
        info.message.encode("utf-8", "replace"),
        info.traceback.encode("utf-8", "replace"),
    )


def _guarded(entry: Callable[..., None]) -> Callable[..., int]:
    """Run ``entry``; 1 if it returned, 0 (and the error recorded) if it raised."""

    def run(*args: Any) -> int:
        try:
            entry(*args)
        except BaseException as exc:  # a C caller cannot catch Python exceptions
            _record(exc)
            return 0
        return 1

    run.__name__ = entry.__name__
    return run


def _start() -> None:
    """Nothing to do: importing this module imported the runtime."""


def _load_from_file(tag: Any, paths: Any, size: int) -> None:
    RUNTIME.load_from_file(_text(tag), [_text(paths[i]) for i in range(size)])


def _load_from_memory(tag: Any, buffer: Any, size: int) -> None:
    # MetaCall's size counts the terminating NUL. The rest is passed whole, NULs included:
    # stopping at the first one would load part of a script and call that success.
    raw = bytes(ffi.buffer(buffer, size))
    RUNTIME.load_from_memory(_text(tag), raw.removesuffix(b"\0").decode("utf-8"))


def _clear() -> None:
    RUNTIME.clear()
    handles.close_all()  # metacall_destroy unloads the private handles too


# --- What the C shim reads ---------------------------------------------------------------
#: The function table's owner.
RUNTIME = RUNTIME
#: ``RUNTIME.<TABLE>``: name -> Function, replaced (never mutated) by every load.
TABLE = "table"
#: ``Function.<CALLABLE>``: what a call calls.
CALLABLE = "callable"
#: ``Function.<COUNTS>``: ``array("q", [calls, errors])``, incremented by the C call routine.
COUNTS = "counts"
#: ``describe_exception(exc)`` gives an object with these three str attributes.
describe_exception = describe_exception
DESCRIPTION_TYPE = "type_name"
DESCRIPTION_MESSAGE = "message"
DESCRIPTION_TRACEBACK = "traceback"


#: MetaCall's private handles and inspect (``bridge.handles``), read by ``c_shim/src/handle.c``
#: and ``inspect.c`` on first use: ``handle_load(scope | None, tag, is_file, paths | script)``
#: -> scope; ``handle_close(scope)``; ``handle_export(scope)`` -> names; ``inspect_json()`` ->
#: str; ``inspect_data()`` -> dict; ``function_size(Function)`` -> int;
#: ``function_async(Function)`` -> bool. A scope has
#: ``TABLE`` (name -> Function) as the runtime does: handle functions are called through it.
handle_load = handles.load
handle_close = handles.close
handle_export = handles.export
inspect_json = handles.inspect_json
inspect_data = handles.inspect_data
function_size = handles.function_size
function_async = handles.function_async


def await_result(name: str, coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run the coroutine that a synchronous call of ``name`` returned on the runtime's event
    loop (as :meth:`Runtime.call` does), and wait for its value."""
    return RUNTIME.await_coroutine(name, coroutine)


def submit_coroutine(
    name: str, coroutine: Coroutine[Any, Any, Any]
) -> concurrent.futures.Future[Any]:
    """Start the coroutine that an awaited call of ``name`` returned; its future."""
    return RUNTIME.submit_coroutine(name, coroutine)


# --- Entry points written in Python --------------------------------------------------------


def _bench_floor(a: int, b: int) -> int:
    return 0


def _bench_noop() -> int:
    return 0


# Registered with calls rather than decorators: ffi is untyped, and mypy --strict would
# otherwise treat every decorated function as untyped.
ffi.def_extern(name="mlbridge_py_start")(_guarded(_start))
ffi.def_extern(name="mlbridge_py_load_from_file")(_guarded(_load_from_file))
ffi.def_extern(name="mlbridge_py_load_from_memory")(_guarded(_load_from_memory))
ffi.def_extern(name="mlbridge_py_clear")(_guarded(_clear))
ffi.def_extern(name="mlbridge_bench_floor")(_bench_floor)
ffi.def_extern(name="mlbridge_bench_noop")(_bench_noop)
# A hot reload bumps the shim's models version (the HTTP server's memo reads it without the GIL).
versions.on_models_changed(lib.mlbridge_models_changed)
