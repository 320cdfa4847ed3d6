"""The benchmarks' memory sampler counts the processes that hold the work, not passing helpers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from bridge.bench.memory import TreeSampler

# A parent that starts and stops one `sleep` child when told to on stdin.
PARENT = """
import subprocess, sys
child = None
for line in sys.stdin:
    if line.strip() == "spawn":
        child = subprocess.Popen(["sleep", "60"])
    elif child is not None:
        child.kill()
        child.wait()
    print("done", flush=True)
"""


@pytest.fixture
def parent() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield proc
    proc.kill()
    proc.wait()


def tell(proc: subprocess.Popen[str], command: str) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "done"


def test_a_child_seen_by_one_sample_only_is_not_counted(parent: subprocess.Popen[str]) -> None:
    sampler = TreeSampler(parent.pid)
    sampler.sample()
    tell(parent, "spawn")
    sampler.sample()
    tell(parent, "kill")
    sampler.sample()
    assert sampler.peak.processes == 1


def test_a_child_seen_by_two_samples_is_counted(parent: subprocess.Popen[str]) -> None:
    sampler = TreeSampler(parent.pid)
    sampler.sample()
    tell(parent, "spawn")
    sampler.sample()
    sampler.sample()
    assert sampler.peak.processes == 2
    assert sampler.peak.rss_mb > 0
