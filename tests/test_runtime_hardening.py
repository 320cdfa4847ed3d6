"""The runtime against hostile scripts and arguments (issue #14, items 1, 2, 3, 11, 12, 14).

Every call that could hang runs under :func:`bounded`: a hang is a failed test, never a stuck
CI job.
"""

from __future__ import annotations

import importlib.machinery
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import (
    ArgumentError,
    BridgeError,
    CallError,
    DuplicateFunctionError,
    FunctionNotFoundError,
    LoadError,
    Runtime,
)
from support.bounded import BOUND_S, bounded


@pytest.fixture
def rt() -> Iterator[Runtime]:
    yield Runtime()


@pytest.fixture
def gate() -> Iterator[types.ModuleType]:
    """A module that scripts import to hang while they load until the test releases them."""
    module = types.ModuleType("harden_load_gate")
    module.entered = threading.Event()  # type: ignore[attr-defined]
    module.release = threading.Event()  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    module.release.set()
    del sys.modules[module.__name__]


HANGING_SCRIPT = (
    "import harden_load_gate as g\n"
    "g.entered.set()\n"
    "g.release.wait(30)\n"
    "def hung():\n"
    "    return 'loaded'\n"
)


# -- item 1: BaseException in a coroutine ----------------------------------------------------


@pytest.mark.parametrize("raised", ["SystemExit(9)", "KeyboardInterrupt()", "GeneratorExit()"])
def test_async_base_exception_is_a_call_error_and_the_loop_keeps_running(
    rt: Runtime, raised: str
) -> None:
    rt.load_from_memory(
        "py", f"async def f():\n    raise {raised}\n\nasync def ok(x):\n    return x\n"
    )
    with pytest.raises(CallError) as info:
        bounded(lambda: rt.call("f"))
    assert info.value.type_name == raised.split("(")[0]
    assert bounded(lambda: rt.call("ok", 1)) == 1
    with pytest.raises(CallError):
        bounded(lambda: rt.call_async("f").result(timeout=BOUND_S))
    assert bounded(lambda: rt.call_async("ok", 2).result(timeout=BOUND_S)) == 2


def test_sync_system_exit_is_a_call_error(rt: Runtime) -> None:
    rt.load_from_memory("py", "def quit():\n    raise SystemExit(3)\n")
    with pytest.raises(CallError, match="SystemExit"):
        bounded(lambda: rt.call("quit"))
    with pytest.raises(CallError, match="SystemExit"):
        bounded(lambda: rt.call_async("quit").result(timeout=BOUND_S))


def test_a_dead_event_loop_is_replaced(rt: Runtime) -> None:
    rt.load_from_memory(
        "py",
        "import asyncio, threading\n"
        "async def ok(x):\n    return x\n"
        "async def where():\n    return asyncio.get_running_loop(), threading.current_thread()\n",
    )
    assert bounded(lambda: rt.call("ok", 1)) == 1
    loop, thread = bounded(lambda: rt.call("where"))

    loop.call_soon_threadsafe(loop.stop)  # however it happens: run_forever returns
    thread.join(BOUND_S)
    assert not thread.is_alive()
    assert bounded(lambda: rt.call("ok", 2)) == 2
    assert bounded(lambda: rt.call("where"))[1] is not thread


# -- item 2: an async function calling bridge.call on another ---------------------------------


def test_async_calling_async_synchronously_is_an_error_not_a_deadlock(rt: Runtime) -> None:
    rt.load_from_memory(
        "py",
        "async def inner(x):\n    return x + 1\n\n"
        "async def outer(x):\n    return RT.call('inner', x)\n\n"
        "async def awaiting(x):\n    return await RT.function('inner').callable(x)\n",
    )
    rt.function("outer").callable.__globals__["RT"] = rt
    with pytest.raises(CallError, match="deadlock") as info:
        bounded(lambda: rt.call("outer", 1))
    assert info.value.type_name == "RuntimeError"
    assert bounded(lambda: rt.call("awaiting", 1)) == 2  # the way that works
    assert bounded(lambda: rt.call("inner", 1)) == 2  # and the loop is fine


# -- item 3: a load that hangs blocks neither clear() nor other loads ------------------------


def test_clear_does_not_wait_for_a_hanging_load(rt: Runtime, gate: types.ModuleType) -> None:
    errors: list[BaseException] = []

    def load() -> None:
        try:
            rt.load_from_memory("py", HANGING_SCRIPT)
        except BaseException as exc:
            errors.append(exc)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    assert gate.entered.wait(BOUND_S)
    bounded(rt.clear, timeout=2)
    # Another load (and its calls) go ahead while the first still hangs.
    bounded(lambda: rt.load_from_memory("py", "def other():\n    return 'other'\n"), timeout=2)
    assert bounded(lambda: rt.call("other")) == "other"
    gate.release.set()
    loader.join(BOUND_S)
    assert not loader.is_alive()
    # It started before clear(): refused, nothing of it registered.
    assert len(errors) == 1 and isinstance(errors[0], LoadError)
    assert "cleared" in str(errors[0])
    with pytest.raises(FunctionNotFoundError):
        rt.call("hung")
    assert rt.names() == ["other"]


def test_a_hanging_load_does_not_block_other_loads(rt: Runtime, gate: types.ModuleType) -> None:
    loader = threading.Thread(target=lambda: rt.load_from_memory("py", HANGING_SCRIPT), daemon=True)
    loader.start()
    assert gate.entered.wait(BOUND_S)
    bounded(lambda: rt.load_from_memory("py", "def quick():\n    return 1\n"), timeout=2)
    assert rt.call("quick") == 1
    gate.release.set()
    loader.join(BOUND_S)
    assert rt.call("hung") == "loaded"  # no clear() in between: it registers normally


# -- item 11: NUL bytes ------------------------------------------------------------------------


def test_names_tags_and_paths_with_nul_are_argument_errors(rt: Runtime, tmp_path: Path) -> None:
    real = tmp_path / "real_nul.py"
    real.write_text("def echo(x):\n    return x\n")
    rt.load_from_file("py", [str(real)])
    with pytest.raises(ArgumentError, match="NUL"):
        rt.call("echo\x00anything", 1)
    with pytest.raises(ArgumentError, match="NUL"):
        rt.load_from_file("py", [str(real) + "\x00.x"])
    with pytest.raises(ArgumentError, match="NUL"):
        rt.load_from_file("py\x00", [str(real)])
    with pytest.raises(ArgumentError, match="NUL"):
        rt.load_from_memory("py", "def g():\n    return 1\n", name="lib\x00x")
    assert rt.names() == ["echo"]
    assert rt.call("echo", 5) == 5


def test_script_text_with_nul_is_refused_whole(rt: Runtime) -> None:
    with pytest.raises(LoadError, match="null bytes"):
        rt.load_from_memory("py", "def before():\n    return 1\n\x00def after():\n    pass\n")
    assert rt.names() == []


def test_a_registered_name_with_nul_is_refused(rt: Runtime) -> None:
    class NulLoader:
        def load_file(self, path: Path) -> dict[str, Callable[..., Any]]:
            return {}

        def load_memory(self, source: str, name: str) -> dict[str, Callable[..., Any]]:
            return {"a\x00b": lambda: 1}

        def discard(self, functions: Any) -> None:
            pass

        def clear(self) -> None:
            pass

    rt.register_loader("nul", NulLoader())
    with pytest.raises(ArgumentError, match="NUL"):
        rt.load_from_memory("nul", "x")
    assert rt.names() == []


# -- item 12: scripts named like installed modules ---------------------------------------------


def test_a_script_named_like_an_installed_module_does_not_replace_it(
    rt: Runtime, tmp_path: Path
) -> None:
    import redis

    script = tmp_path / "redis.py"
    script.write_text("def shadow():\n    return 'mine'\n")
    rt.load_from_file("py", [str(script)])
    assert rt.call("shadow") == "mine"
    assert sys.modules["redis"] is redis
    # Nor does its directory shadow the package for later imports.
    found = importlib.machinery.PathFinder.find_spec("redis")
    assert found is not None and found.origin is not None
    assert Path(found.origin).parent != tmp_path
    from redis.retry import Retry  # the real package still imports

    assert Retry is not None


def test_a_refused_duplicate_load_leaves_no_module_behind(rt: Runtime, tmp_path: Path) -> None:
    (tmp_path / "first_dup.py").write_text("def same():\n    return 1\n")
    (tmp_path / "second_dup.py").write_text("def same():\n    return 2\n")
    rt.load_from_file("py", [str(tmp_path / "first_dup.py")])
    before = set(sys.modules)
    with pytest.raises(DuplicateFunctionError):
        rt.load_from_file("py", [str(tmp_path / "second_dup.py")])
    assert set(sys.modules) == before
    assert rt.call("same") == 1


def test_two_scripts_with_one_stem_both_load(rt: Runtime, tmp_path: Path) -> None:
    for sub, value in (("a", 1), ("b", 2)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "stem_twice.py").write_text(f"def f{sub}():\n    return {value}\n")
    rt.load_from_file("py", [str(tmp_path / "a" / "stem_twice.py")])
    rt.load_from_file("py", [str(tmp_path / "b" / "stem_twice.py")])
    assert (rt.call("fa"), rt.call("fb")) == (1, 2)


# -- item 14: wrong argument types -------------------------------------------------------------


@pytest.mark.parametrize(
    "attempt",
    [
        lambda rt: rt.call(["x"]),
        lambda rt: rt.call(7),
        lambda rt: rt.load_from_file("py", b"x.py"),
        lambda rt: rt.load_from_file("py", [None]),
        lambda rt: rt.load_from_file(None, ["x.py"]),
        lambda rt: rt.load_from_memory("py", "def f():\n    pass\n", name=["l"]),
        lambda rt: rt.load_from_memory("py", b"def f():\n    pass\n"),
        lambda rt: rt.load_from_memory(["py"], "def f():\n    pass\n"),
    ],
    ids=[
        "call-list",
        "call-int",
        "paths-bytes",
        "path-none",
        "tag-none",
        "name-list",
        "source-bytes",
        "tag-list",
    ],
)
def test_wrong_argument_types_are_bridge_errors(
    rt: Runtime, attempt: Callable[[Runtime], Any]
) -> None:
    with pytest.raises(BridgeError) as info:
        attempt(rt)
    assert isinstance(info.value, ArgumentError)
    assert rt.names() == []
