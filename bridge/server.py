"""The HTTP server (``build/bin/mlbridge-server``, ``make go``) as a child process: the one
implementation that ``mlbridge http-demo`` and the tests (``tests/support/mlbridge_server.py``)
start servers with.

    with running(Path("examples/wine_quality.yaml")) as server:   # 127.0.0.1, a free port
        httpx.post(server.url + "/v1/api/model/wine_quality/eval", json=row)
        server.stats("wine_quality")["runtime"]["model"]["rows_evaluated"]

It is stopped (SIGTERM, then SIGKILL after a grace period) when the ``with`` block ends, however
it ends. Its output (stdout and stderr, line by line) is collected while it runs, in
:attr:`ServerProcess.log`. A stopped server starts again on the port it had, so clients that
fail over can come back to it. ``mlbridge http-demo CONFIG`` (this module's command, part of
``make demo``) starts one, sends a single row, a batch and a repeat that the cache answers,
prints the answers and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER = REPO_ROOT / "build" / "bin" / "mlbridge-server"
LISTENING = re.compile(rb"^mlbridge-server: listening on (\S+)")
"""The one line the server writes to stdout, once it serves."""


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


class ChildServer:
    """A server run as a child process: ``with Server(...) as server:`` starts it and closes
    it, however the block ends (subclasses define both; the tests' Redis and mly peer too)."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ServerProcess(ChildServer):
    """``mlbridge-server -c config``; ``host`` and ``port`` (0: a free one) override the
    configuration's ``Endpoint`` when given."""

    def __init__(
        self,
        config: Path,
        *,
        host: str | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.executable = server_binary()
        if not os.access(self.executable, os.X_OK):
            raise ServerError(f"{self.executable} is not built (make go builds it)")
        self.config = config.resolve()
        self.host_flag, self.port = host, port
        self.env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
        self.url = ""
        """``http://HOST:PORT`` once it listens (empty before, and if it did not start)."""
        self.process: subprocess.Popen[bytes] | None = None
        self.log: list[bytes] = []
        """Its output so far (stdout and stderr), a line each; a start begins a new one."""
        self._reader: threading.Thread | None = None

    @property
    def host(self) -> str:
        """``HOST:PORT`` of :attr:`url`."""
        return self.url.split("://", 1)[-1]

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait for its "listening on" line (loading takes seconds); a
        server that ran before starts on the same port again. :class:`ServerError` if it
        exits or says nothing within ``timeout`` (it is stopped then)."""
        args = [str(self.executable), "-c", str(self.config)]
        if self.host_flag is not None:
            args += ["-host", self.host_flag]
        port = int(self.url.rsplit(":", 1)[1]) if self.url else self.port  # a restart: the same
        if port is not None:
            args += ["-port", str(port)]
        self.url, self.log = "", []
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env
        )
        listening = threading.Event()
        self._reader = threading.Thread(
            target=self._read, args=(self.process, listening), name="mlbridge-server output"
        )
        self._reader.daemon = True
        self._reader.start()
        if not listening.wait(timeout) or not self.url:
            returncode = self.process.poll()
            self.stop()
            why = f"exited with {returncode}" if returncode is not None else "said nothing"
            raise ServerError(
                f"mlbridge-server did not start ({why} within {timeout:.0f} s); its output:\n"
                + self.output()[-3000:]
            )

    def _read(self, process: subprocess.Popen[bytes], listening: threading.Event) -> None:
        """Collects the output (so the pipe never fills) and spots the listening line."""
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                self.log.append(line)
                if not listening.is_set() and (found := LISTENING.match(line)):
                    self.url = found.group(1).decode()
                    listening.set()
        listening.set()  # it exited

    def output(self) -> str:
        """What the server wrote so far, as text."""
        return b"".join(self.log).decode(errors="replace")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (requests in flight are answered), SIGKILL after ``timeout``; the exit code
        (None if it was not running). Its output stays in :attr:`log`."""
        process, self.process = self.process, None
        if process is None:
            return None
        stop_process(process, timeout)
        if self._reader is not None:
            self._reader.join(timeout)  # the rest of the output; it closes the pipe
        return process.returncode

    def close(self) -> None:
        self.stop()

    def stats(self, model: str) -> dict[str, Any]:
        """The model's ``/meta/stats`` (batching, server, model and datastore counters)."""
        response = httpx.get(f"{self.url}/v1/api/model/{model}/meta/stats", timeout=30)
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


@contextlib.contextmanager
def running(config: Path, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServerProcess]:
    """A started :class:`ServerProcess` on ``host`` and ``port`` (whatever the configuration's
    ``Endpoint`` says), stopped when the block ends, however it ends."""
    with ServerProcess(config, host=host, port=port) as server:
        yield server


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
