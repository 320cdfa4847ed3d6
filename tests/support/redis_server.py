"""A real ``redis-server`` for tests: a free loopback port, a temp dir, no persistence.

    with RedisServer() as server:
        store = RedisStore.connect("name", server.connection(), "ns", "set")
        server.kill()      # SIGKILL, as a crash
        server.start()     # same port again

The ``redis_server`` fixture is one started server per test module.

Skips the test (naming the reason) when ``redis-server`` is not installed; ``make
system-packages`` installs it from Debian.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bridge.config import Connection, Timeout
from support.process import ChildServer, stop_process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer(ChildServer):
    def __init__(self, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.skip("redis-server is not installed (make system-packages installs it)")
        self.executable = executable
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="mlbridge-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        return Path(self._dir.name)

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"redis-server on port {self.port} did not start:\n{log}")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """Die at once (SIGKILL), as a crashed server."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def client(self) -> redis.Redis:
        """A plain client, to look at or plant what the store under test does not."""
        return redis.Redis(port=self.port, socket_timeout=2)

    def connection(self, timeout: Timeout | None = None) -> Connection:
        """This server as a configured ``Kind: redis`` connection (mly's timeouts unless given)."""
        return Connection(
            id=f"redis-{self.port}",
            hostnames=("127.0.0.1",),
            port=self.port,
            kind="redis",
            timeout=timeout or Timeout(),
        )

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server
