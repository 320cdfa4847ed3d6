"""Our HTTP server (``build/bin/mlbridge-server``, built by ``make go``) as a child process.

    with MlbridgeServer(config_path) as server:
        server.url                 # "http://127.0.0.1:PORT" (Endpoint.Port 0: a free port)
        server.eval_requests()     # eval requests it has answered for sli (its /meta/stats)

``serving(kind, models_dir, work_dir, model_id)`` is either server kind (``"mlbridge"``: ours,
``"mly"``: :class:`~support.mly_peer.MlyPeer`) serving one of mly's fixture models under the same
ID with a memory datastore, so one test can run against both.

A stopped server restarts on the same port (``Endpoint.Port`` is rewritten to it), so clients
that fail over can come back to it. Tests that need it skip, naming ``make go``, when the binary
is absent.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from support.mly_peer import MODELS, MlyPeer
from support.process import ChildServer, stop_process

ROOT = Path(__file__).resolve().parents[2]
MLBRIDGE_SERVER = ROOT / "build" / "bin" / "mlbridge-server"
_LISTENING = re.compile(rb"listening on (http://\S+)")


def require_mlbridge_server() -> Path:
    if not os.access(MLBRIDGE_SERVER, os.X_OK):
        pytest.skip(f"{MLBRIDGE_SERVER.relative_to(ROOT)} is not built (make go builds it)")
    return MLBRIDGE_SERVER


class MlbridgeServer(ChildServer):
    """``mlbridge-server -c config``; the configuration's ``Endpoint.Port`` should be 0."""

    def __init__(self, config: Path, model_id: str = "sli") -> None:
        self.executable = require_mlbridge_server()
        self.config = config
        self.model_id = model_id
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log: list[bytes] = []

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def start(self, timeout: float = 120.0) -> None:
        config = self.config
        if self.url:  # a restart: the same port again
            port = self.url.rsplit(":", 1)[1]
            text = re.sub(r"(?im)^(\s*port:\s*)0\s*$", rf"\g<1>{port}", config.read_text())
            config = config.with_name(f"{config.stem}.restart{config.suffix}")
            config.write_text(text)
        self.log = []
        self.process = subprocess.Popen(
            [str(self.executable), "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        found = threading.Event()
        reader = threading.Thread(target=self._read, args=(self.process, found), daemon=True)
        reader.start()
        if not found.wait(timeout) or not self.url:
            self.stop()
            output = b"".join(self.log).decode(errors="replace")[-3000:]
            raise RuntimeError(f"mlbridge-server did not start:\n{output}")

    def _read(self, process: subprocess.Popen[bytes], found: threading.Event) -> None:
        """Collects the output (so the pipe never fills) and spots the listening line."""
        assert process.stdout is not None
        for line in process.stdout:
            self.log.append(line)
            match = _LISTENING.search(line)
            if match and not found.is_set():
                self.url = match.group(1).decode()
                found.set()
        found.set()

    def eval_requests(self) -> int:
        """Eval requests the server has answered for its model (``/meta/stats``)."""
        stats = httpx.get(f"{self.url}/v1/api/model/{self.model_id}/meta/stats").json()
        return int(stats["requests"])

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()


class Server(Protocol):
    """What the client tests use of either kind of server."""

    @property
    def host(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

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
