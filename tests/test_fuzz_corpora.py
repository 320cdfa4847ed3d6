"""The atheris targets' committed corpora as regression tests (``make fuzz-py`` grows them).

Each input in ``fuzz/corpus/<target>/`` goes through the target's ``check``, exactly as the
fuzzer runs it; a finding that was fixed has its input committed there. Each target replays in
a child process with a time limit: a regression into a hang inside C code (``repr`` of an alias
bomb holds the GIL) fails the test instead of stalling the run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support.data import ROOT

FUZZ = ROOT / "fuzz"

REPLAY = """
import json, sys, traceback
sys.path.insert(0, sys.argv[1])
check = __import__(sys.argv[2] + "_target").check
failures = {}
for path in sys.argv[3:]:
    try:
        check(open(path, "rb").read())
    except BaseException as exc:
        failures[path] = "".join(traceback.format_exception_only(exc))[-500:]
print(json.dumps(failures))
"""


@pytest.mark.parametrize("name", ["config", "keys"])
def test_every_corpus_input_passes_its_target(name: str) -> None:
    inputs = sorted(str(p) for p in (FUZZ / "corpus" / name).iterdir())
    assert len(inputs) >= 5
    done = subprocess.run(
        [sys.executable, "-c", REPLAY, str(FUZZ), name, *inputs],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {}
