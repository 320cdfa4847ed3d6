"""The real mly server (viant/mly v1.0.1, ``make mly-peer``) on a free loopback port.

    with MlyPeer(models_dir, tmp_path) as peer:
        peer.url           # "http://127.0.0.1:PORT"
        peer.eval_requests()   # eval requests it has handled (its gmetric counter)

Tests that need it skip, naming ``make mly-peer``, when ``build/peers/mly-server`` is absent.
mly reads its port from the configuration only, so the port is picked free just before start.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from support.process import ChildServer, stop_process
from support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
MLY_SERVER = ROOT / "build" / "peers" / "mly-server"


def require_mly_server() -> Path:
    if not os.access(MLY_SERVER, os.X_OK):
        pytest.skip(f"{MLY_SERVER.relative_to(ROOT)} is not built (make mly-peer builds it)")
    return MLY_SERVER


MODELS = {
    "sli": ("string_lookups_int_model", ""),
    "vec": ("vectorization_int_model", "\n    inputs:\n      - name: tv\n        wildcard: true"),
}
"""Model ID → (mly fixture model, extra YAML of its ``models`` entry)."""


class MlyPeer(ChildServer):
    """mly's server with one of :data:`MODELS` (default ``sli``) and a memory datastore."""

    def __init__(self, models_dir: Path, work_dir: Path, model_id: str = "sli") -> None:
        self.executable = require_mly_server()
        self.model_id = model_id
        self.model_dir, self.model_extra = MODELS[model_id]
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.models_dir = models_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.port = self.port or free_port()
        config = self.work_dir / "config.yaml"
        config.write_text(
            f"""Endpoint:
  Port: {self.port}
models:
  - id: {self.model_id}
    url: {self.models_dir / self.model_dir}
    useDict: true
    datastore: {self.model_id}{self.model_extra}
datastores:
  - id: {self.model_id}
    cache:
      sizeMb: 16
    timeToLiveMs: 60000
""",
            encoding="utf-8",
        )
        log = (self.work_dir / "mly-server.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.executable), "-c", str(config)],
            cwd=self.work_dir,
            env={**os.environ, "TMPDIR": str(self.work_dir), "TF_CPP_MIN_LOG_LEVEL": "2"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = httpx.get(f"{self.url}/v1/api/model/{self.model_id}/meta/config")
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.work_dir / "mly-server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mly-server on port {self.port} did not start:\n{tail}")
            time.sleep(0.05)

    def eval_requests(self) -> int:
        """Eval requests handled so far (mly's ``<model>HTTPHandler`` operation count)."""
        url = f"{self.url}/v1/api/metric/operation/{self.model_id}HTTPHandler"
        document = httpx.get(url).json()
        return int(document.get("Count", 0)) if document else 0

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()
