"""The cross-host conformance table (``tests/conformance/cases.json``) through ``bridge.call``.

The same table runs through MetaCall's C ABI (ctest ``c_conformance``) and Go's
``metacall.Call`` (``go test ./conformance/``), each asserting the same expected answers; this
file is the Python host. The calls go through the public ``bridge.call`` on a runtime of the
test's own (``bridge.RUNTIME`` is swapped for it while the module runs).
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bridge
from bridge.runtime import Runtime
from conformance.table import Case, ErrorSpec, Expect, load, same

TABLE = load()
CASES = TABLE.for_host("python")


@pytest.fixture(scope="module")
def conformance_runtime() -> Iterator[Runtime]:
    runtime = Runtime()
    runtime.load_from_file("py", [str(TABLE.script)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bridge, "RUNTIME", runtime)
        yield runtime
    runtime.clear()


def check_error(error: BaseException, spec: ErrorSpec) -> None:
    if spec.kind == "exception":
        assert isinstance(error, bridge.CallError), repr(error)
        assert error.type_name == spec.type, error
        message, traceback = error.message, error.traceback
    else:
        wanted = bridge.FunctionNotFoundError if spec.kind == "not_found" else bridge.ArgumentError
        assert isinstance(error, wanted), repr(error)
        message, traceback = str(error), ""
    assert spec.matches_message(message), (message, spec)
    if spec.traceback is not None:
        assert spec.traceback in traceback, traceback


def check(outcome: Any, error: BaseException | None, expect: Expect) -> None:
    if expect.error is None:
        assert error is None, repr(error)
        assert expect.result is not None
        want = expect.result.python()
        assert same(outcome, want), (outcome, want)
    else:
        assert error is not None, f"no error; the result was {outcome!r}"
        check_error(error, expect.error)


def run(case: Case, call: Callable[..., Any]) -> None:
    """``call(name, *args)`` for the case, and its answer checked against the table."""
    outcome: Any = None
    error: BaseException | None = None
    try:
        outcome = call(case.function, *(a.python() for a in case.args))
    except bridge.BridgeError as exc:
        error = exc
    check(outcome, error, case.expected("python"))


def counts(name: str) -> list[int]:
    result: list[int] = bridge.call("counts_of", name)
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bridge_call(case: Case, conformance_runtime: Runtime) -> None:
    """The case's answer, and the function's ``[calls, errors]`` counted as the table says."""
    before = counts(case.function) if case.counts else None
    run(case, bridge.call)
    if before is not None and case.counts is not None:
        after = counts(case.function)
        assert [after[0] - before[0], after[1] - before[1]] == list(case.counts)


ASYNC_CASES = [c for c in CASES if c.is_async]


@pytest.mark.parametrize("case", ASYNC_CASES, ids=[c.id for c in ASYNC_CASES])
def test_call_async(case: Case, conformance_runtime: Runtime) -> None:
    """The asynchronous call path (MetaCall's await) gives the same answers."""
    run(case, lambda name, *args: conformance_runtime.call_async(name, *args).result(timeout=30))


def test_the_table_from_many_threads(conformance_runtime: Runtime) -> None:
    """The whole table from 8 threads at once: the same answers, whatever else is in flight."""

    def one_pass(thread: int) -> list[str]:
        failures = []
        for case in CASES:
            try:
                run(case, bridge.call)
            except AssertionError as failure:
                failures.append(f"thread {thread}: {case.id}: {failure}")
        return failures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        failures = [f for found in pool.map(one_pass, range(8)) for f in found]
    assert not failures, "\n".join(failures)


def test_the_table_covers_every_category_on_every_host() -> None:
    categories = {"arguments", "results", "exceptions", "unknown", "async", "bad-input"}
    assert {c.category for c in TABLE.cases} == categories
    for host in ("python", "c", "go"):
        ran = {c.category for c in TABLE.for_host(host)}
        assert ran == categories, (host, categories - ran)
    # A restriction is the exception: most of the table is one answer on three hosts.
    restricted = [c for c in TABLE.cases if len(c.hosts) < 3]
    assert len(restricted) * 5 < len(TABLE.cases)


def test_every_function_of_the_script_is_called_and_every_call_is_answered(
    conformance_runtime: Runtime,
) -> None:
    loaded = set(conformance_runtime.names())
    called = {c.function for c in TABLE.cases}
    assert loaded - called == {"counts_of"}, "functions no case calls (but the runners)"
    for case in TABLE.cases:
        kinds = {e.error.kind for h in case.hosts if (e := case.expected(h)).error}
        if case.function not in loaded:
            assert kinds <= {"not_found", "argument"} and kinds, case.id
        else:  # the table's async is the function's (C: metacall_function_async)
            assert conformance_runtime.function(case.function).is_async == case.is_async


# -- a rename on the C seam fails the C host, cleanly ------------------------------------------

C_RUNNER = Path(__file__).resolve().parent.parent / "build" / "cmake" / "c_conformance_runner"

# Written as sitecustomize.py on PYTHONPATH: once bridge._cabi is imported inside the C host,
# CHANGE is applied to it, as if a name had been renamed in bridge/ and not in _cabi.py.
RENAMER = """
import importlib.abc, importlib.util, sys

class Renamer(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "bridge._cabi":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            {change}
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Renamer())
"""


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            'module.TABLE = "functions"',
            "bridge.RUNTIME has no attribute 'functions' (bridge._cabi.TABLE): libmetacall.so and "
            "the bridge package it imports do not match; rebuild the library (make shim)",
        ),
        ("del module.submit_coroutine", "submit_coroutine"),
        ("del module.describe_exception", "describe_exception"),
    ],
    ids=["a-name-it-reads", "an-object-it-imports", "the-exception-describer"],
)
def test_a_rename_on_the_c_seam_fails_the_c_host_with_a_reason(
    change: str, reason: str, tmp_path: Path
) -> None:
    if not C_RUNNER.exists():
        pytest.skip(f"{C_RUNNER} is not built (make shim)")
    (tmp_path / "sitecustomize.py").write_text(RENAMER.format(change=change))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([str(C_RUNNER)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])  # not a crash
    assert reason in done.stderr, done.stderr[-2000:]
