"""The HTTP server (``build/bin/mlbridge-server``, ``make go``) as a child process.

    with running(Path("examples/wine_quality.yaml")) as server:   # 127.0.0.1, a free port
        httpx.post(server.url + "/v1/api/model/wine_quality/eval", json=row)
        server.stats("wine_quality")["runtime"]["model"]["rows_evaluated"]

It is stopped (SIGTERM, then SIGKILL after a grace period) when the ``with`` block ends, however
it ends. ``mlbridge http-demo CONFIG`` (this module's command, part of ``make demo``) starts one,
sends a single row, a batch and a repeat that the cache answers, prints the answers and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER = REPO_ROOT / "build" / "bin" / "mlbridge-server"
LISTENING = "mlbridge-server: listening on "


class ServerError(RuntimeError):
    """The server is not built, did not start, or exited."""


def server_binary() -> Path:
    """``$MLBRIDGE_SERVER`` or the repository's ``build/bin/mlbridge-server``."""
    return Path(os.environ.get("MLBRIDGE_SERVER") or SERVER)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``; reaped either way."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class ServerProcess:
    """``mlbridge-server -c config`` on ``host``, on ``port`` (0: a free one)."""

    def __init__(
        self,
        config: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.executable = server_binary()
        if not os.access(self.executable, os.X_OK):
            raise ServerError(f"{self.executable} is not built (make go builds it)")
        self.config = config.resolve()
        self.host, self.port = host, port
        self.env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait for its "listening on" line (loading takes seconds)."""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        args = [str(self.executable), "-c", str(self.config), "-host", self.host]
        args += ["-port", str(self.port)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self._log, env=self.env
        )
        try:
            self.url = self._wait_listening(self.process, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, process: subprocess.Popen[bytes], timeout: float) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        buffered = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in buffered:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerError(f"no 'listening' line within {timeout:.0f} s{self._tail()}")
                if selector.select(left):
                    chunk = os.read(process.stdout.fileno(), 4096)
                    if not chunk:
                        process.wait(timeout=10)
                        raise ServerError(f"exited with {process.returncode}{self._tail()}")
                    buffered += chunk
        line = buffered.split(b"\n", 1)[0].decode(errors="replace")
        if not line.startswith(LISTENING):
            raise ServerError(f"unexpected first line {line!r}{self._tail()}")
        return line.removeprefix(LISTENING).strip()

    def _tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")[-3000:]
        return f"; its log:\n{text}" if text else ""

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return self._tail().removeprefix("; its log:\n")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (requests in flight are answered), SIGKILL after ``timeout``; the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        stop_process(process, timeout)
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stats(self, model: str) -> dict[str, Any]:
        """The model's ``/meta/stats`` (batching, server, model and datastore counters)."""
        response = httpx.get(f"{self.url}/v1/api/model/{model}/meta/stats", timeout=30)
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


@contextlib.contextmanager
def running(config: Path, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServerProcess]:
    """A started :class:`ServerProcess`, stopped when the block ends, however it ends."""
    server = ServerProcess(config, host=host, port=port)
    try:
        server.start()
        yield server
    finally:
        server.close()


# -- mlbridge http-demo ------------------------------------------------------------------------

DEMO_ROWS = [
    {
        "country": "Italy",
        "province": "Sicily & Sardinia",
        "variety": "White Blend",
        "winery": "Nicosia",
        "price": 15.0,
    },
    {
        "country": "US",
        "province": "Oregon",
        "variety": "Pinot Noir",
        "winery": "Rainstorm",
        "price": 14.0,
    },
    {
        "country": "France",
        "province": "Bordeaux",
        "variety": "Bordeaux-style Red Blend",
        "winery": "Château de Sours",
        "price": 23.0,
    },
]
"""Reviews of the wine reviews CSV; the first one is sent twice (the repeat is a cache hit)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        nargs="?",
        default=str(REPO_ROOT / "examples" / "wine_quality.yaml"),
        help="the configuration to serve (examples/wine_quality.yaml)",
    )
    parser.add_argument("--model", help="the model to ask (default: the first one served)")


def run(args: argparse.Namespace) -> int:
    try:
        with running(Path(args.config)) as server:
            return demo(server, args.model)
    except (ServerError, httpx.HTTPError) as exc:
        print(f"mlbridge http-demo: {exc}", file=sys.stderr)
        return 1


def demo(server: ServerProcess, model: str | None) -> int:
    print(f"mlbridge-server -c {server.config} is listening on {server.url}")
    if model is None:
        model = _first_model(server)
    eval_url = f"{server.url}/v1/api/model/{model}/eval"

    def evaluated() -> int:
        rows: int = server.stats(model)["runtime"]["model"]["rows_evaluated"]
        return rows

    columns = {name: [row[name] for row in DEMO_ROWS] for name in DEMO_ROWS[0]}
    requests = [
        ("one row", DEMO_ROWS[0], 1),
        ("a batch (batch_size and one array per input)", {"batch_size": 3, **columns}, 3),
        ("the first row again", DEMO_ROWS[0], 1),
    ]
    with httpx.Client(timeout=60) as client:
        for what, body, rows in requests:
            before = evaluated()
            response = client.post(eval_url, json=body)
            fresh = evaluated() - before
            print(f"\nPOST /v1/api/model/{model}/eval: {what}")
            print(f"  {json.dumps(body, ensure_ascii=False)}")
            print(f"→ {response.status_code} {response.text}")
            print(f"  ({fresh} of {rows} row(s) evaluated by the model, the rest from the cache)")
            if response.status_code != 200:
                return 1
    return 0


def _first_model(server: ServerProcess) -> str:
    """The first model of the configuration, as the runtime describes it (no YAML parsed here)."""
    from bridge.config import load_config

    return load_config(server.config).models[0].id
