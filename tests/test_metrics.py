"""bridge.metrics: per-function calls and errors, and the loaders' counters, in one snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge import CallError, metrics
from bridge.runtime import Runtime
from support.mly import cached_model_config


def test_every_call_and_every_error_is_counted_per_function(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "def half(x):\n    return 10 // x\n\ndef idle():\n    pass\n")
    runtime.call("half", 2)
    runtime.call("half", 5)
    with pytest.raises(CallError):
        runtime.call("half", 0)
    functions = metrics.snapshot(runtime)["functions"]
    assert functions["half"] == {"calls": 3, "errors": 1}
    assert functions["idle"] == {"calls": 0, "errors": 0}


def test_async_calls_count_their_coroutines_failures(runtime: Runtime) -> None:
    runtime.load_from_memory("py", "async def inverse(x):\n    return 1 / x\n")
    assert runtime.call_async("inverse", 4).result(timeout=5) == 0.25
    with pytest.raises(CallError):
        runtime.call_async("inverse", 0).result(timeout=5)
    with pytest.raises(CallError):
        runtime.call("inverse", 0)
    assert metrics.function_counts(runtime)["inverse"] == {"calls": 3, "errors": 2}


def test_the_snapshot_holds_the_mly_loaders_model_and_datastore_counters(
    runtime: Runtime, mly_models: Path, tmp_path: Path
) -> None:
    runtime.load_from_file("mly", [cached_model_config(tmp_path, mly_models)])
    for _ in range(3):
        runtime.call("sli.eval", {"sa": "a", "sl": "a"})
    snap = metrics.snapshot(runtime)
    assert snap["functions"]["sli.eval"] == {"calls": 3, "errors": 0}
    mly = snap["loaders"]["mly"]
    assert mly["models"]["sli"]["rows_evaluated"] == 1
    assert mly["datastores"]["mem"]["local_hits"] == 2
    assert "py" not in snap["loaders"]  # it keeps no counters
