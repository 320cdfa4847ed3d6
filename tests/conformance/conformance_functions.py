"""The functions that the cross-host conformance table (``cases.json``) calls.

Loaded as a ``py`` script by every runner: ``tests/test_conformance.py`` (``bridge.call``),
``tests/conformance/runner.c`` (MetaCall's C ABI, under ctest) and ``go_host/conformance``
(Go's ``metacall.Call``). Keep it tiny: each function exists to produce one kind of value or
error. Renaming one means renaming it in ``cases.json``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from numpy.typing import NDArray

import bridge


def identity(value: Any) -> Any:
    """The argument back, so that a value crosses the boundary both ways."""
    return value


def type_name(value: Any) -> str:
    """The Python type the argument arrived as (``int``, ``float``, ``bytes``…)."""
    return type(value).__name__


def describe(value: Any) -> str:
    """``repr`` of the argument as Python sees it: types of nested values and keys included."""
    return repr(value)


def add(a: int, b: int) -> int:
    return a + b


def with_default(a: int, b: int = 10) -> int:
    return a + b


def count_arguments(*args: Any) -> list[str]:
    """The type of each argument: any number of them, past the few a call keeps on its stack."""
    return [type(arg).__name__ for arg in args]


def no_arguments() -> str:
    return "ok"


def no_result() -> None:
    """A procedure: its result is ``None``."""


def repeat(text: str, times: int) -> str:
    """A result as large as asked (Go reads one past its 4 KiB buffer from C memory)."""
    return text * times


def größe() -> str:
    """A function whose name is not ASCII."""
    return "ß"


def numpy_values() -> dict[str, Any]:
    """What models return: numpy scalars and arrays (C and Go get them through ``tolist``)."""
    return {
        "scalar": np.int64(7),
        "real": np.float32(0.5),
        "flag": np.bool_(True),
        "matrix": np.arange(4, dtype=np.int32).reshape(2, 2),
    }


def numpy_matrix() -> NDArray[np.float64]:
    return np.array([[0.5, -1.0], [2.0, 0.0]])


def call_other(name: str, *args: Any) -> Any:
    """A function that calls another through the runtime (from the host's thread)."""
    return bridge.call(name, *args)


def counts_of(name: str) -> list[int]:
    """``[calls, errors]`` of a function: the runners check that each host counts a call once."""
    return list(bridge.RUNTIME.function(name).counts)


def make_tuple() -> tuple[int, str]:
    return (1, "two")


def make_bytearray() -> bytearray:
    return bytearray(b"\x00\xff")


def power_of_two(exponent: int) -> int:
    """``2 ** exponent``: beyond 63 it no longer fits the C ABI's LONG."""
    return 1 << exponent


def nested(levels: int) -> Any:
    """``"bottom"`` inside ``levels`` lists."""
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def int_keyed_dict() -> dict[Any, str]:
    return {1: "one"}


def nested_int_keyed_dict() -> dict[str, Any]:
    return {"outer": [{"ok": 1}, {2.5: "bad"}]}


def unsupported_result() -> set[int]:
    """A Python value with no counterpart in the C ABI (and no ``tolist``)."""
    return {1, 2}


def _private() -> str:
    """Not exported: a script's names that start with ``_`` are not runtime functions."""
    return "hidden"


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def raise_key_error() -> None:
    raise KeyError("missing")


class ScriptError(Exception):
    """An exception class of the script: every host names it ``<script>.<qualified name>``."""

    class Inner(Exception):
        """A class inside a class: its qualified name is ``ScriptError.Inner``."""


def raise_script_error(message: str) -> None:
    raise ScriptError(message)


def raise_inner_error(message: str) -> None:
    raise ScriptError.Inner(message)


def divide(a: float, b: float) -> float:
    return a / b


def exit_process() -> None:
    """A called script must not exit the host: this is an error like any other."""
    raise SystemExit(3)


async def async_double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


async def async_raise(message: str) -> None:
    await asyncio.sleep(0)
    raise RuntimeError(message)


async def async_call_async(value: int) -> Any:
    """Waiting for an async function from a coroutine on the runtime's loop would block the
    loop on itself: the runtime refuses it with an error, it does not hang."""
    return bridge.call("async_double", value)


async def async_dict(key: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {key: [1, 2.5, None]}


async def async_set() -> set[int]:
    await asyncio.sleep(0)
    return {3}
