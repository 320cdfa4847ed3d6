"""Every counter of a runtime in one snapshot: what the HTTP service exports.

    bridge.metrics.snapshot()
    {"functions": {"wine_quality.eval": {"calls": 12, "errors": 1}, ...},
     "loaders": {"mly": {"datastores": {...}, "models": {...}}}}

The counters are fields of the objects that count (groupcache's way): each loaded
:class:`~bridge.runtime.Function` has ``counts`` (calls and errors through every host), and a
loader that keeps counters offers ``snapshot()`` (the ``"mly"`` loader: per datastore hits,
misses, tiers and errors; per model rows, evaluations and single-flight). This module only reads
them; nothing here is on a call's path.

Function counters are plain increments under the GIL, exact for every call but one that a
garbage collection interrupts at the wrong instruction: fit for monitoring, not for billing.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from bridge.runtime import CALLS, ERRORS, RUNTIME, Runtime


@runtime_checkable
class CountingLoader(Protocol):
    """A loader whose counters belong in the snapshot (:class:`bridge.mly.MlyLoader` is one)."""

    def snapshot(self) -> dict[str, Any]: ...


def function_counts(runtime: Runtime = RUNTIME) -> dict[str, dict[str, int]]:
    """``{name: {"calls": n, "errors": m}}`` for every loaded function, by name."""
    table = runtime.table
    return {
        name: {"calls": table[name].counts[CALLS], "errors": table[name].counts[ERRORS]}
        for name in sorted(table)
    }


def snapshot(runtime: Runtime = RUNTIME) -> dict[str, Any]:
    """The runtime's function counters and those of every loader that keeps some."""
    loaders = {
        tag: loader.snapshot()
        for tag, loader in sorted(runtime.loaders().items())
        if isinstance(loader, CountingLoader)
    }
    return {"functions": function_counts(runtime), "loaders": loaders}
