"""What the HTTP server's operational endpoints ask the runtime for (``go_host/server/ops.go``).

The server calls these through ``metacall`` like any other runtime function (one call path),
registered by the server's configuration load next to its own description functions:

* ``mlbridge.ops.snapshot()``: every counter in one JSON text, read once per scrape —
  :func:`bridge.metrics.snapshot` (function calls and errors; per datastore hits, misses, tiers
  with their breaker state; per model rows, evaluations, single-flight; per model reload status)
  plus ``health`` (mly's ``{"<ID>": 1}``, 0 after a failed reload).
* ``mlbridge.ops.flush()``: wait for every datastore's background writes (graceful drain).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from bridge.metrics import snapshot
from bridge.mly.loader import MlyLoader
from bridge.runtime import Runtime

SNAPSHOT = "mlbridge.ops.snapshot"
FLUSH = "mlbridge.ops.flush"


def functions(runtime: Runtime, mly: MlyLoader) -> dict[str, Callable[[], object]]:
    """The ops functions over ``runtime`` and its ``"mly"`` loader, by runtime name."""

    def snapshot_json() -> str:
        out = snapshot(runtime)
        out["health"] = mly.health()
        return json.dumps(out, separators=(",", ":"))

    def flush() -> None:
        mly.flush()

    return {SNAPSHOT: snapshot_json, FLUSH: flush}
