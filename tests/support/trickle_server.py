"""A TCP server on a free loopback port that answers like a very slow Redis.

    with TrickleServer(delay_s=0.05) as server:
        ...  # connect to server.port

``HELLO`` (redis-py speaks RESP3) and other commands (``CLIENT SETINFO``) are answered at once;
an ``MGET`` gets a long, valid answer one byte every ``delay_s``: each ``recv`` of the client
returns in time, only the whole answer takes long (``len(answer) * delay_s``, here ~10 s).
"""

from __future__ import annotations

import contextlib
import socket
import threading

from support.process import ChildServer

ANSWER = b"*1\r\n$200\r\n" + b"x" * 200 + b"\r\n"


class TrickleServer(ChildServer):
    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.mgets = 0

    def start(self) -> None:
        self._spawn(self._accept)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for client in list(self._clients):
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._clients.append(client)
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                data = client.recv(65536)
                if not data:
                    return
                if b"MGET" in data.upper():
                    self.mgets += 1
                    for byte in ANSWER:
                        if self._stop.wait(self.delay_s):
                            return
                        client.sendall(bytes([byte]))
                elif b"HELLO" in data.upper():
                    client.sendall(b"%1\r\n$5\r\nproto\r\n:3\r\n")
                else:
                    commands = sum(1 for line in data.split(b"\r\n") if line.startswith(b"*"))
                    client.sendall(b"+OK\r\n" * max(1, commands))
        except OSError:
            return
