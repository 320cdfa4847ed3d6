"""What importing the runtime costs: no TensorFlow, training, benchmarks or their tools.

Each check runs in a fresh interpreter, so that what other tests imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LIBRARIES = {"tensorflow", "keras", "psutil", "matplotlib"}
"""Model libraries (loaded with the first model) and the benchmarks' tools ([bench] extra)."""


def imported_after(code: str) -> set[str]:
    """Top-level packages, and ``bridge.<subpackage>``, in ``sys.modules`` after ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    names = json.loads(out.splitlines()[-1])
    return {".".join(m.split(".")[: 2 if m.startswith("bridge.") else 1]) for m in names}


@pytest.mark.parametrize("code", ["import bridge", "import bridge.metrics"])
def test_the_runtime_imports_no_model_library_training_or_benchmark(code: str) -> None:
    imported = imported_after(code)
    assert imported.isdisjoint(LIBRARIES | {"bridge.train", "bridge.bench"})


def test_the_command_line_needs_no_model_library_or_bench_extra_to_start() -> None:
    assert imported_after("from bridge.cli import build_parser; build_parser()").isdisjoint(
        LIBRARIES
    )


def test_the_default_runtime_has_its_loaders_from_where_it_is_built() -> None:
    code = "import bridge; print(sorted(bridge.RUNTIME.loaders()))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert out.splitlines()[-1] == "['mly', 'mly-server', 'py']"


def test_a_memory_only_datastore_imports_no_remote_client() -> None:
    code = (
        "from bridge.cache.factory import open_datastore\n"
        "from bridge.config import parse_config\n"
        "config = parse_config('Models: [{ID: m, URL: /nowhere, DataStore: d}]\\n'\n"
        "                      'Datastores: [{ID: d, Cache: {SizeMB: 1}}]\\n')\n"
        "open_datastore(config.datastores[0], config).close()"
    )
    imported = imported_after(code)
    assert "bridge.cache" in imported  # the code ran
    assert imported.isdisjoint({"redis", "aerospike"})
