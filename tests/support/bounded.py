"""``bounded(fn, timeout)``: a call that may hang, run so that a hang fails the test instead
of stalling the run (the stdlib's stand-in for pytest-timeout, for one call)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

BOUND_S = 10.0


def bounded(fn: Callable[[], Any], timeout: float = BOUND_S) -> Any:
    """``fn()`` on a daemon thread: its value or exception, or a test failure after
    ``timeout`` seconds (the thread is abandoned, not waited for)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # SystemExit too: it must reach the test, not end a thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="bounded-test-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"still running after {timeout:g} s (a hang)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
