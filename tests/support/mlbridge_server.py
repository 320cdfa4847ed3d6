"""Our HTTP server (``build/bin/mlbridge-server``, built by ``make go``) as a child process, for
tests: :class:`bridge.server.ServerProcess` (the one implementation, also ``mlbridge
http-demo``'s), skipped naming ``make go`` when the binary is absent.

    with MlbridgeServer(config_path) as server:
        server.url                 # "http://127.0.0.1:PORT" (Endpoint.Port 0: a free port)
        server.log                 # its output so far, a line each (read while it starts, too)
        server.eval_requests()     # eval requests it has answered for sli (its /meta/stats)

``serving(kind, models_dir, work_dir, model_id)`` is either server kind (``"mlbridge"``: ours,
``"mly"``: :class:`~support.mly_peer.MlyPeer`) serving one of mly's fixture models under the same
ID with a memory datastore, so one test can run against both.

A stopped server restarts on the same port, so clients that fail over can come back to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import pytest

from bridge.server import ServerProcess, server_binary
from support.mly_peer import MODELS, MlyPeer

ROOT = Path(__file__).resolve().parents[2]


def require_mlbridge_server() -> Path:
    binary = server_binary()
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} is not built (make go builds it)")
    return binary


class MlbridgeServer(ServerProcess):
    """``mlbridge-server -c config`` for a test of the model ``model_id``; the configuration's
    ``Endpoint`` (``Port`` should be 0) says where it listens."""

    def __init__(self, config: Path, model_id: str = "sli") -> None:
        require_mlbridge_server()
        super().__init__(config)
        self.model_id = model_id

    def eval_requests(self) -> int:
        """Eval requests the server has answered for its model (``/meta/stats``)."""
        return int(self.stats(self.model_id)["requests"])


class Server(Protocol):
    """What the client tests use of either kind of server."""

    @property
    def host(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> object: ...  # ours answers the exit code

    def close(self) -> None: ...

    def eval_requests(self) -> int: ...


KINDS = ("mlbridge", "mly")


def serving(kind: str, models_dir: Path, work_dir: Path, model_id: str = "sli") -> Server:
    """An unstarted server of ``kind`` with the model ``model_id`` of :data:`MODELS`."""
    if kind == "mly":
        return MlyPeer(models_dir, work_dir, model_id)
    model, extra = MODELS[model_id]  # mly's YAML for the entry; ours reads keys in any case
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "config.yaml"
    config.write_text(
        f"""Endpoint:
  Port: 0
  Host: 127.0.0.1
Models:
  - ID: {model_id}
    URL: {models_dir / model}
    DataStore: mem{extra}
Datastores: [{{ID: mem, Cache: {{SizeMB: 16}}, TimeToLiveMs: 60000}}]
""",
        encoding="utf-8",
    )
    return MlbridgeServer(config, model_id)
