"""The runtime's function table: loading, calling, errors, inspect, threads."""

from __future__ import annotations

import sys
import textwrap
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bridge import (
    CallError,
    DuplicateFunctionError,
    FunctionNotFoundError,
    LoaderNotFoundError,
    LoadError,
    Runtime,
)


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source))
    return path


# -- loading ---------------------------------------------------------------------------------


def test_load_from_file_registers_public_functions_only(runtime: Runtime, tmp_path: Path) -> None:
    script = write(
        tmp_path / "rt_public.py",
        """
        from os.path import join  # imported: not exported

        def double(x: int) -> int:
            return 2 * x

        def _private():
            return None
        """,
    )
    handle = runtime.load_from_file("py", [str(script)])
    assert handle.functions == ("double",)
    assert runtime.call("double", 21) == 42
    assert runtime.names() == ["double"]


def test_relative_path_is_searched_in_loader_script_path(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write(second / "rt_searched.py", "def where():\n    return 'b'\n")
    monkeypatch.setenv("LOADER_SCRIPT_PATH", f"{first}:{second}")
    runtime.load_from_file("py", ["rt_searched.py"])
    assert runtime.call("where") == "b"


def test_relative_path_defaults_to_working_directory(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "rt_cwd.py", "def here():\n    return 'cwd'\n")
    monkeypatch.delenv("LOADER_SCRIPT_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    runtime.load_from_file("py", ["rt_cwd.py"])
    assert runtime.call("here") == "cwd"


def test_missing_file_names_the_search_path(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADER_SCRIPT_PATH", str(tmp_path))
    with pytest.raises(LoadError, match=r"nowhere\.py: not found in LOADER_SCRIPT_PATH"):
        runtime.load_from_file("py", ["nowhere.py"])


def test_load_from_memory(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "def greet(name):\n    return 'hi ' + name\n", "greeter")
    assert runtime.call("greet", "wine") == "hi wine"
    assert runtime.function("greet").source == "<memory:greeter>"


def test_duplicate_name_fails_second_load_and_first_stays(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "def f():\n    return 'first'\n")
    with pytest.raises(DuplicateFunctionError, match="'f'"):
        runtime.load_from_memory("py", "def f():\n    return 'second'\n\ndef g():\n    return 1\n")
    assert runtime.call("f") == "first"
    with pytest.raises(FunctionNotFoundError):
        runtime.function("g")  # nothing of the failed load was registered


def test_syntax_error_is_a_load_error_with_the_line(runtime: Runtime, tmp_path: Path) -> None:
    script = write(tmp_path / "rt_broken.py", "def ok():\n    return 1\n\ndef bad(:\n")
    with pytest.raises(LoadError, match="syntax error at line 4"):
        runtime.load_from_file("py", [str(script)])
    with pytest.raises(FunctionNotFoundError):
        runtime.function("ok")


def test_import_error_is_a_load_error(runtime: Runtime, tmp_path: Path) -> None:
    script = write(tmp_path / "rt_imports.py", "import no_such_module_xyz\n")
    with pytest.raises(LoadError, match="import failed: No module named 'no_such_module_xyz'"):
        runtime.load_from_file("py", [str(script)])


def test_error_while_running_script_is_a_load_error(runtime: Runtime) -> None:
    with pytest.raises(LoadError, match="ZeroDivisionError"):
        runtime.load_from_memory("py", "x = 1 / 0\n")


def test_unknown_loader_tag(runtime: Runtime) -> None:
    with pytest.raises(LoaderNotFoundError, match="'node'"):
        runtime.load_from_memory("node", "module.exports = {}")


def test_runtime_keeps_working_after_load_errors(runtime: Runtime) -> None:
    for bad in ("def (:\n", "import nope_nope\n", "raise SystemExit(3)\n"):
        with pytest.raises(LoadError):
            runtime.load_from_memory("py", bad)
    runtime.load_from_memory("py", "def alive():\n    return True\n")
    assert runtime.call("alive") is True


# -- calling ---------------------------------------------------------------------------------


def test_call_with_args_and_kwargs(runtime: Runtime) -> None:
    runtime.load_from_memory(
        "py", "def scale(x, factor=2, *, offset=0):\n    return x * factor + offset\n"
    )
    assert runtime.call("scale", 3) == 6
    assert runtime.call("scale", 3, 10) == 30
    assert runtime.call("scale", 3, factor=3, offset=1) == 10


def test_exception_carries_type_message_and_traceback(runtime: Runtime) -> None:
    runtime.load_from_memory(
        "py",
        "def inner(x):\n    raise ValueError(f'bad value {x}')\n\n"
        "def outer(x):\n    return inner(x)\n",
        "raiser",
    )
    with pytest.raises(CallError) as info:
        runtime.call("outer", 7)
    err = info.value
    assert err.function == "outer"
    assert err.type_name == "ValueError"
    assert err.message == "bad value 7"
    assert "in inner" in err.traceback and "<memory:raiser>" in err.traceback
    assert isinstance(err.__cause__, ValueError)


RAISES_OWN = (
    "class Refused(Exception):\n    class Detail(Exception):\n        pass\n\n"
    "def refuse():\n    raise Refused('no')\n\n"
    "def detail():\n    raise Refused.Detail('why')\n"
)


def test_a_script_exception_is_named_after_the_script_and_the_class(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The same name in every process and every load: the script's name and the class's
    qualified name, never the private module name the script runs under."""
    script = tmp_path / "my-checks.py"
    script.write_text(RAISES_OWN)
    runtime.load_from_file("py", [script])
    names = []
    for function in ("refuse", "detail"):
        with pytest.raises(CallError) as info:
            runtime.call(function)
        names.append(info.value.type_name)
    assert names == ["my_checks.Refused", "my_checks.Refused.Detail"]
    assert "mlbridge_script" not in info.value.traceback

    other = Runtime()
    other.load_from_memory("py", RAISES_OWN, "checker")
    with pytest.raises(CallError) as info:
        other.call("refuse")
    assert info.value.type_name == "checker.Refused"

    unnamed = Runtime()
    unnamed.load_from_memory("py", RAISES_OWN)
    with pytest.raises(CallError) as info:
        unnamed.call("detail")
    assert info.value.type_name == "Refused.Detail"  # no name: the class's, as for __main__
    assert "mlbridge_script" not in info.value.traceback


def test_clear_releases_a_file_scripts_module(tmp_path: Path) -> None:
    """MetaCall's destroy: nothing of a load stays behind, sys.modules included."""
    runtime = Runtime()
    script = write(tmp_path / "rt_released.py", "def which():\n    return 'released'\n")
    runtime.load_from_file("py", [script])
    module = runtime.function("which").callable.__module__
    assert module in sys.modules
    runtime.clear()
    assert module not in sys.modules
    runtime.load_from_file("py", [script])  # and it loads again
    assert runtime.call("which") == "released"


def test_wrong_argument_count_is_a_call_error(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "def two(a, b):\n    return a + b\n")
    with pytest.raises(CallError) as info:
        runtime.call("two", 1)
    assert info.value.type_name == "TypeError"
    assert runtime.call("two", 1, 2) == 3  # the next call works


def test_exception_of_a_module_type_is_qualified(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "import json\n\ndef parse(s):\n    return json.loads(s)\n")
    with pytest.raises(CallError) as info:
        runtime.call("parse", "{nope")
    assert info.value.type_name == "json.decoder.JSONDecodeError"


def test_unknown_function(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "def present():\n    return 1\n")
    with pytest.raises(FunctionNotFoundError) as info:
        runtime.call("missing")
    assert str(info.value) == "function not found: 'missing'"


def test_unknown_function_when_nothing_is_loaded_says_to_load_first(runtime: Runtime) -> None:
    with pytest.raises(FunctionNotFoundError) as info:
        runtime.call("missing")
    assert str(info.value) == (
        "function not found: 'missing' (nothing is loaded: load a script or configuration first)"
    )


def test_coroutine_functions_are_awaited(runtime: Runtime) -> None:
    runtime.load_from_memory(
        "py",
        "import asyncio\n\nasync def later(x):\n    await asyncio.sleep(0)\n    return x + 1\n",
    )
    assert runtime.call("later", 1) == 2
    assert runtime.call_async("later", 41).result(timeout=5) == 42


def test_call_async_reports_exceptions_through_the_future(runtime: Runtime) -> None:
    runtime.load_from_memory(
        "py",
        "async def boom():\n    raise KeyError('k')\n\ndef sync_boom():\n    raise OSError('o')\n",
    )
    with pytest.raises(CallError, match="KeyError"):
        runtime.call_async("boom").result(timeout=5)
    with pytest.raises(CallError, match="OSError"):
        runtime.call_async("sync_boom").result(timeout=5)


def test_coroutine_calls_do_not_wait_for_a_load_in_progress(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "async def later(x):\n    return x\n")
    loading, finish = threading.Event(), threading.Event()
    gate = types.ModuleType("rt_load_gate")  # a script that hangs while it loads, as TF can
    gate.loading, gate.finish = loading, finish  # type: ignore[attr-defined]
    sys.modules[gate.__name__] = gate
    slow = "import rt_load_gate\nrt_load_gate.loading.set()\nrt_load_gate.finish.wait(10)\n"
    loader = threading.Thread(target=lambda: runtime.load_from_memory("py", slow))
    loader.start()
    try:
        assert loading.wait(5)
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(lambda: runtime.call("later", 7)).result(timeout=5) == 7
    finally:
        finish.set()
        loader.join()
        del sys.modules[gate.__name__]


def test_clear_forgets_functions(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "def f():\n    return 1\n")
    runtime.clear()
    with pytest.raises(FunctionNotFoundError):
        runtime.call("f")
    runtime.load_from_memory("py", "def f():\n    return 2\n")  # the name is free again
    assert runtime.call("f") == 2


# -- inspect ---------------------------------------------------------------------------------


def test_inspect_lists_functions_with_parameters_and_annotations(runtime: Runtime) -> None:
    runtime.load_from_memory(
        "py",
        "def process_batch(texts: list[str], limit: int = 3) -> list[dict]:\n    return []\n\n"
        "def untyped(a):\n    return a\n",
        "scored",
    )
    report = runtime.inspect()
    (script,) = report["py"]
    assert script["name"] == "<memory:scored>"
    funcs = {f["name"]: f for f in script["scope"]["funcs"]}
    sig = funcs["process_batch"]["signature"]
    assert [(a["name"], a["type"]["name"]) for a in sig["args"]] == [
        ("texts", "list[str]"),
        ("limit", "int"),
    ]
    assert sig["ret"]["type"]["name"] == "list[dict]"
    assert funcs["untyped"]["signature"]["args"] == [{"name": "a", "type": {"name": ""}}]
    assert funcs["untyped"]["async"] is False


# -- threads ---------------------------------------------------------------------------------


def test_sixteen_threads_get_the_same_results_as_sequential_calls(runtime: Runtime) -> None:
    runtime.load_from_memory(
        "py",
        "import hashlib\n\ndef digest(i: int) -> str:\n"
        "    return hashlib.sha256(str(i).encode()).hexdigest()\n",
    )
    inputs = list(range(2000))
    expected = [runtime.call("digest", i) for i in inputs]
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda i: runtime.call("digest", i), inputs))
    assert got == expected


def test_concurrent_loads_and_calls(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "def base():\n    return 0\n")
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            runtime.load_from_memory("py", f"def f{n}():\n    return {n}\n")
            for _ in range(200):
                assert runtime.call("base") == 0
            assert runtime.call(f"f{n}") == n
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(runtime.names()) == 17


def test_two_scripts_of_one_load_may_not_export_the_same_name(
    runtime: Runtime, tmp_path: Path
) -> None:
    a = write(tmp_path / "rt_dup_a.py", "def shared():\n    return 'a'\n")
    b = write(
        tmp_path / "rt_dup_b.py", "def shared():\n    return 'b'\n\ndef only_b():\n    return 1\n"
    )
    with pytest.raises(DuplicateFunctionError, match="'shared'"):
        runtime.load_from_file("py", [str(a), str(b)])
    assert runtime.names() == []  # all or nothing
