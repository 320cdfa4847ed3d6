"""Redis as a tier: ``MGET`` for a batch of reads, one pipelined ``SET … PX`` batch for writes.

Keys are ``<Namespace>:<Dataset>:<cache key>`` so that several models and datastores can share
one server; values are the same JSON bytes as the memory tier.

Failures are told apart by reach. Every operation (a command sent and its whole answer read)
has the connection's ``Timeout.Total`` as a deadline, whatever the server trickles: past it the
operation fails like an unreachable server (:class:`BackendUnavailable`, which the breaker
counts). A problem of one value is that value's miss: a stored value that is not an entry is
``corrupt``, a key that is not valid UTF-8 text (a lone surrogate) is sent as its
``surrogatepass`` bytes, which no valid text encodes to.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bridge.cache.backend import BackendUnavailable
from bridge.cache.counters import StoreCounters
from bridge.cache.entry import CorruptEntryError, Entry, decode, encode
from bridge.config import Connection


class _DeadlineSocket:
    """A connected socket on which each operation must end by a deadline: sending a command
    starts it (``total_s`` from then), and every later read waits at most what is left.

    redis-py bounds each ``recv`` by the socket timeout only, so a server that trickles a
    byte per ``recv`` could hold a reader for ever. Anything else goes to the real socket.
    """

    __slots__ = ("_deadline", "_sock", "_timeout", "_total_s")

    def __init__(self, sock: socket.socket, total_s: float) -> None:
        self._sock = sock
        self._total_s = total_s
        self._timeout = sock.gettimeout()
        self._deadline = math.inf

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._timeout

    def sendall(self, data: Any, *flags: int) -> None:
        self._deadline = time.monotonic() + self._total_s
        self._sock.settimeout(self._timeout)
        self._sock.sendall(data, *flags)

    def recv(self, size: int, *flags: int) -> bytes:
        self._bound()
        return self._sock.recv(size, *flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, *flags: int) -> int:
        self._bound()
        return self._sock.recv_into(buffer, nbytes, *flags)

    def _bound(self) -> None:
        timeout = self._timeout
        if timeout == 0:  # a non-blocking poll (redis-py's can_read): nothing to bound
            return
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer within {self._total_s * 1000:g} ms")
        self._sock.settimeout(left if timeout is None or left < timeout else timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineConnection(redis.Connection):
    """redis-py's TCP connection on a :class:`_DeadlineSocket`."""

    def __init__(self, *, total_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.total_timeout = total_timeout

    def _connect(self) -> Any:
        return _DeadlineSocket(super()._connect(), self.total_timeout)  # type: ignore[no-untyped-call]


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


class RedisStore:
    def __init__(
        self,
        name: str,
        client: redis.Redis,
        namespace: str,
        dataset: str,
    ) -> None:
        self.name = name
        self.client = client
        self.prefix = f"{namespace}:{dataset}:"
        self._prefix = _key_bytes(self.prefix)
        self.counters = StoreCounters()
        self._idle: list[Any] = []  # list.pop/append are atomic: a lock-free connection stack

    @classmethod
    def connect(cls, name: str, connection: Connection, namespace: str, dataset: str) -> RedisStore:
        """A client of ``connection``'s first host; nothing is contacted before the first use."""
        pool = redis.ConnectionPool(
            connection_class=_DeadlineConnection,
            host=connection.hostnames[0],
            port=connection.port,
            socket_connect_timeout=connection.timeout.connection_ms / 1000.0,
            socket_timeout=connection.timeout.socket_ms / 1000.0,
            total_timeout=connection.timeout.total_ms / 1000.0,
            # The breaker decides when to try again; the client must not retry on its own.
            retry=Retry(NoBackoff(), 0),
        )
        return cls(name, redis.Redis(connection_pool=pool), namespace, dataset)

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        if not keys:
            return []
        try:
            raw = self._mget([self._prefix + _key_bytes(k) for k in keys])
        except redis.RedisError as exc:
            self.counters.add("errors")
            raise BackendUnavailable(f"{self.name}: {exc}") from exc
        out: list[Entry | None] = []
        for data in raw:
            if data is None:
                out.append(None)
                continue
            try:
                out.append(decode(data))
            except CorruptEntryError:  # this value's problem: a miss, the tier is fine
                self.counters.add("corrupt")
                out.append(None)
        hits = sum(1 for e in out if e is not None)
        self.counters.add_many(hits=hits, misses=len(keys) - hits)
        return out

    def _mget(self, keys: list[bytes]) -> list[bytes | None]:
        # The read path talks to a connection directly: redis-py's client-level machinery
        # (pool bookkeeping, instrumentation hooks) costs ~4x the network round trip on loopback,
        # and an L1 hit must stay an order of magnitude cheaper than the model.
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self.client.connection_pool.make_connection()
        try:
            connection.send_command("MGET", *keys)
            response = connection.read_response()
        except BaseException:
            connection.disconnect()  # its state is unknown: never reuse it
            raise
        self._idle.append(connection)
        if not isinstance(response, list):
            raise redis.ResponseError(f"MGET answered {type(response).__name__}")
        return response

    def put_many(self, items: Sequence[tuple[str, Entry]], ttl_ms: int) -> None:
        encoded: list[tuple[str, bytes]] = []
        for key, entry in items:
            try:
                encoded.append((key, encode(entry)))
            except (TypeError, ValueError, RecursionError):  # this entry's problem only
                self.counters.add("corrupt")
        self.put_raw(encoded, ttl_ms)

    def put_raw(self, items: Sequence[tuple[str, bytes]], ttl_ms: int) -> None:
        if not items:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, data in items:
                pipe.set(self._prefix + _key_bytes(key), data, px=max(1, ttl_ms))
            pipe.execute()
        except redis.RedisError as exc:
            self.counters.add("errors")
            raise BackendUnavailable(f"{self.name}: {exc}") from exc
        self.counters.add("writes", len(items))

    def close(self) -> None:
        while self._idle:
            self._idle.pop().disconnect()
        self.client.close()
