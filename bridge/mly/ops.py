"""What the HTTP server's operational endpoints ask the runtime for (``go_host/server/ops.go``).

The server calls these through ``metacall`` like any other runtime function (one call path);
the server's configuration load registers them next to its own description functions:

* ``mlbridge.ops.snapshot()``: every counter in one JSON text, read once per scrape —
  :func:`bridge.metrics.snapshot` (function calls and errors; per datastore hits, misses, tiers
  with their breaker state; per model rows, evaluations, single-flight; per model reload status)
  plus ``health``.
* ``mlbridge.ops.health()``: mly's health body, ``{"<ID>": 1}`` (0 after a failed reload).
* ``mlbridge.ops.flush()``: wait for every datastore's background writes (graceful drain).
* ``mlbridge.ops.settings()``: the configuration's :class:`~bridge.config.Access` settings.

:func:`preview` (endpoint and access settings, parsed only) is what the server asks before any
model loads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bridge.config import Config, load_config
from bridge.metrics import snapshot
from bridge.mly.loader import MlyLoader
from bridge.runtime import RUNTIME, Runtime

SNAPSHOT = "mlbridge.ops.snapshot"
HEALTH = "mlbridge.ops.health"
FLUSH = "mlbridge.ops.flush"
SETTINGS = "mlbridge.ops.settings"


def access_settings(config: Config) -> dict[str, Any]:
    """The server's access and TLS settings (``go_host/server`` ``OpsSettings``)."""
    access = config.access
    return {
        "allowedSubnet": list(access.allowed_subnet),
        "authTokenFile": config.endpoint.auth_token_file,
        "tlsCertFile": access.tls_cert_file,
        "tlsKeyFile": access.tls_key_file,
        "enableCPUProf": access.enable_cpu_prof,
        "enableMemProf": access.enable_mem_prof,
    }


def preview(path: str) -> str:
    """The endpoint and access settings of the configuration at ``path``, parsed only: no model
    is loaded. The server opens its port with them and answers readiness 503 while the models
    load (it calls this through a two-line script it loads from memory, before any load)."""
    from bridge.mly.meta import endpoint_settings  # meta imports this module

    config = load_config(path)
    return json.dumps({"endpoint": endpoint_settings(config), "ops": access_settings(config)})


def functions(
    config: Config, mly: MlyLoader, runtime: Runtime = RUNTIME
) -> dict[str, Callable[[], str | None]]:
    """The ops functions over ``runtime`` and its ``"mly"`` loader, by runtime name."""
    settings = json.dumps(access_settings(config))

    def snapshot_json() -> str:
        out = snapshot(runtime)
        out["health"] = mly.health()
        return json.dumps(out, separators=(",", ":"))

    def health() -> str:
        return json.dumps(mly.health(), separators=(",", ":"))

    def flush() -> None:
        mly.flush()

    return {
        SNAPSHOT: snapshot_json,
        HEALTH: health,
        FLUSH: flush,
        SETTINGS: lambda: settings,
    }
