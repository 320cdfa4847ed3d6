"""The seam between the C shim and Python: every name ``bridge._cabi`` declares for the C side
resolves to what the C code expects. A rename in ``bridge.runtime`` or ``bridge.errors`` that
is not followed here fails this test, not only C and Go callers at run time."""

from __future__ import annotations

import array
import importlib
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge import versions
from bridge.runtime import Function, Runtime


class _FakeFFI:
    """Stands in for the cffi module that only exists inside libmetacall.so."""

    def def_extern(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return lambda function: function


@pytest.fixture
def cabi() -> Iterator[types.ModuleType]:
    fake = types.ModuleType("_mlbridge_cffi")
    fake.ffi = _FakeFFI()  # type: ignore[attr-defined]
    fake.lib = types.SimpleNamespace(mlbridge_models_changed=lambda: None)  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("_mlbridge_cffi", "bridge._cabi")}
    listener = versions._listener
    sys.modules["_mlbridge_cffi"] = fake
    sys.modules.pop("bridge._cabi", None)
    try:
        yield importlib.import_module("bridge._cabi")
    finally:
        versions.on_models_changed(listener)
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_the_table_attribute_is_the_runtimes_name_to_function_dict(cabi: types.ModuleType) -> None:
    assert isinstance(cabi.RUNTIME, Runtime)
    runtime = Runtime()
    runtime.load_from_memory("py", "def f(x):\n    return x\n")
    table = getattr(runtime, cabi.TABLE)
    assert isinstance(table, dict) and isinstance(table["f"], Function)
    # An instance attribute: C reads it from the instance dict, not through the type.
    assert vars(runtime)[cabi.TABLE] is table and not hasattr(Runtime, cabi.TABLE)


def test_a_function_has_the_callable_and_the_counters_c_reads(cabi: types.ModuleType) -> None:
    def f() -> int:
        return 1

    function = Function("f", f, "<test>")
    assert getattr(function, cabi.CALLABLE) is f
    counts = getattr(function, cabi.COUNTS)
    # The C call routine writes through the buffer: two signed 64-bit integers.
    assert isinstance(counts, array.array) and counts.typecode == "q" and list(counts) == [0, 0]
    assert memoryview(counts).format == "q" and not memoryview(counts).readonly
    assert getattr(Function("g", f, "<test>"), cabi.COUNTS) is not counts  # one pair each


def test_an_exception_description_has_the_three_strings_c_reads(cabi: types.ModuleType) -> None:
    try:
        raise ValueError("bad input")
    except ValueError as exc:
        info = cabi.describe_exception(exc)
    fields = (cabi.DESCRIPTION_TYPE, cabi.DESCRIPTION_MESSAGE, cabi.DESCRIPTION_TRACEBACK)
    values = [getattr(info, field) for field in fields]
    assert all(isinstance(v, str) for v in values)
    assert values[0] == "ValueError" and values[1] == "bad input" and "bad input" in values[2]


def test_the_coroutine_helpers_run_a_coroutine_to_its_value(cabi: types.ModuleType) -> None:
    async def seven() -> int:
        return 7

    assert cabi.await_result("seven", seven()) == 7
    assert cabi.submit_coroutine("seven", seven()).result(timeout=10) == 7


def test_the_handle_and_inspect_names_are_bridge_handles(cabi: types.ModuleType) -> None:
    from bridge import handles

    scope = cabi.handle_load(None, b"py", False, b"def f(a, b):\n    return a\n\0")
    try:
        assert isinstance(getattr(scope, cabi.TABLE)["f"], Function)  # handle.c reads TABLE
        assert cabi.handle_export(scope) == ["f"]
        assert cabi.function_size(getattr(scope, cabi.TABLE)["f"]) == 2
        assert cabi.function_async(getattr(scope, cabi.TABLE)["f"]) is False
        assert isinstance(cabi.inspect_json(), str)
    finally:
        cabi.handle_close(scope)
    assert cabi.handle_load is handles.load and cabi.inspect_json is handles.inspect_json


def test_a_version_swap_bumps_the_shims_models_version(cabi: types.ModuleType) -> None:
    """ModelService.install → versions.models_changed → the C counter that hosts read without
    the GIL (go_host/server's memo drops its answers when it moves)."""
    bumps: list[None] = []
    sys.modules["_mlbridge_cffi"].lib.mlbridge_models_changed = lambda: bumps.append(None)
    importlib.reload(cabi)  # installs the listener again, with the counting lib
    versions.models_changed()
    versions.models_changed()
    assert len(bumps) == 2
