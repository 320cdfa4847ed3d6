"""The C shim from pytest: its ctest suite is run by ``make test``; here, the parts that need
the Python side of the project (the header parser, and the wine example when a model exists)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ROOT / "c_shim" / "include" / "metacall"
EXAMPLE = ROOT / "build" / "bin" / "wine_sentiment"
MODEL = ROOT / "build" / "models" / "sentiment-small"
SCRIPT = ROOT / "python_scripts" / "wine_sentiment.py"


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_shim", ROOT / "c_shim" / "build_shim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cffi_declarations_come_from_every_public_function_of_the_headers() -> None:
    build_shim = _build_script()
    declared = "\n".join(build_shim.declarations(h) for h in build_shim.C_HEADERS)
    for header in ("metacall.h", "metacall_value.h", "metacall_error.h"):
        text = (HEADERS / header).read_text()
        names = re.findall(r"^METACALL_API [^;(]*?\**(\w+)\(", text, flags=re.MULTILINE)
        assert names, header
        for name in names:
            assert re.search(rf"\b{name}\(", declared), name
    assert "#" not in declared and "METACALL_API" not in declared


def test_the_upstream_enum_numbers_are_kept() -> None:
    text = (HEADERS / "metacall_value.h").read_text()
    expected = {"BOOL": 0, "LONG": 4, "STRING": 7, "MAP": 10, "NULL": 14, "THROWABLE": 18}
    for name, number in expected.items():
        assert f"METACALL_{name} = {number}," in text


@pytest.mark.slow
@pytest.mark.skipif(
    not (EXAMPLE.exists() and MODEL.exists() and SCRIPT.exists()),
    reason="needs the built example (make shim), the trained model and the wine script",
)
def test_wine_example_scores_the_first_thousand_reviews() -> None:
    csv = os.environ.get("MLBRIDGE_WINE_CSV", "")
    if not Path(csv).is_file():
        pytest.skip("set MLBRIDGE_WINE_CSV to the wine reviews CSV")
    done = subprocess.run(
        [str(EXAMPLE), "-n", "1000", "-threads", "2", csv],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = re.search(r"positive: (\d+)\s+negative: (\d+)\s+failed: 0", done.stdout)
    assert counts is not None, done.stdout
    assert int(counts[1]) + int(counts[2]) == 1000
