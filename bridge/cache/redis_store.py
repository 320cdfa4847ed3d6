"""Redis as a tier: ``MGET`` for a batch of reads, one pipelined ``SET … PX`` batch for writes.

Keys are ``<Namespace>:<Dataset>:<cache key>`` so that several models and datastores can share
one server; values are the same JSON bytes as the memory tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bridge.cache.backend import BackendUnavailable
from bridge.cache.counters import StoreCounters
from bridge.cache.entry import CorruptEntryError, Entry, decode, encode
from bridge.config import Connection


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
        self.counters = StoreCounters()
        self._idle: list[Any] = []  # list.pop/append are atomic: a lock-free connection stack

    @classmethod
    def connect(cls, name: str, connection: Connection, namespace: str, dataset: str) -> RedisStore:
        """A client of ``connection``'s first host; nothing is contacted before the first use."""
        client = redis.Redis(
            host=connection.hostnames[0],
            port=connection.port,
            socket_connect_timeout=connection.timeout.connection_ms / 1000.0,
            socket_timeout=connection.timeout.socket_ms / 1000.0,
            # The breaker decides when to try again; the client must not retry on its own.
            retry=Retry(NoBackoff(), 0),
        )
        return cls(name, client, namespace, dataset)

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        if not keys:
            return []
        try:
            raw = self._mget([self.prefix + k for k in keys])
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
            except CorruptEntryError:
                self.counters.add("corrupt")
                out.append(None)
        hits = sum(1 for e in out if e is not None)
        self.counters.add_many(hits=hits, misses=len(keys) - hits)
        return out

    def _mget(self, keys: list[str]) -> list[bytes | None]:
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
        self.put_raw([(key, encode(entry)) for key, entry in items], ttl_ms)

    def put_raw(self, items: Sequence[tuple[str, bytes]], ttl_ms: int) -> None:
        if not items:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, data in items:
                pipe.set(self.prefix + key, data, px=max(1, ttl_ms))
            pipe.execute()
        except redis.RedisError as exc:
            self.counters.add("errors")
            raise BackendUnavailable(f"{self.name}: {exc}") from exc
        self.counters.add("writes", len(items))

    def close(self) -> None:
        while self._idle:
            self._idle.pop().disconnect()
        self.client.close()
