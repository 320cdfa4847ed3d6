"""Aerospike as a tier, laid out as mly lays it out.

Namespace = ``Namespace``, set = ``Dataset``, user key = the cache key (sent, as mly does), one
bin per model output plus ``dictHash``, record TTL from ``TimeToLiveMs`` (whole seconds, at
least 1). Reads are one ``batch_read``; writes are one ``put`` per record (the client has no
multi-record put that keeps per-record TTLs simple).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.cache.backend import BackendUnavailable
from bridge.cache.counters import StoreCounters
from bridge.cache.entry import Entry
from bridge.config import Connection, Timeout

HASH_BIN = "dictHash"
MAX_BIN_NAME = 15
"""Aerospike's bin-name limit; an output with a longer name cannot be stored."""

_KEY_NOT_FOUND = 2


def _aerospike_error() -> type[Exception]:
    """The client's base exception, imported late: the client is an optional dependency."""
    import importlib

    error: type[Exception] = importlib.import_module("aerospike.exception").AerospikeError
    return error


def _sendable(key: str) -> bool:
    """Can the client send ``key``? (It encodes keys as UTF-8; a lone surrogate cannot be.)"""
    if key.isascii():
        return True
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class AerospikeStore:
    def __init__(
        self,
        name: str,
        client: Any,
        namespace: str,
        dataset: str,
        timeout: Timeout,
    ) -> None:
        self.name = name
        self.client = client
        self.namespace = namespace
        self.dataset = dataset
        self.counters = StoreCounters()
        self._read_policy = {
            "total_timeout": int(timeout.total_ms),
            "socket_timeout": int(timeout.socket_ms),
        }

    @classmethod
    def connect(
        cls, name: str, connection: Connection, namespace: str, dataset: str
    ) -> AerospikeStore:
        """Connect to ``connection``'s hosts now (the client needs a cluster map to start)."""
        import aerospike

        hosts = connection.hostnames
        config = {
            "hosts": [(h, connection.port) for h in hosts],
            "policies": {"timeout": int(connection.timeout.connection_ms)},
        }
        try:
            client = aerospike.client(config)
            if not client.is_connected():
                client.connect()
        except _aerospike_error() as exc:
            raise BackendUnavailable(f"{name}: cannot connect to {hosts}: {exc}") from exc
        return cls(name, client, namespace, dataset, connection.timeout)

    def _key(self, key: str) -> tuple[str, str, str]:
        return (self.namespace, self.dataset, key)

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        if not keys:
            return []
        # A key the client cannot encode would fail the whole batch: it is that key's miss.
        asked = [i for i, k in enumerate(keys) if _sendable(k)]
        out: list[Entry | None] = [None] * len(keys)
        if asked:
            try:
                batch = self.client.batch_read(
                    [self._key(keys[i]) for i in asked], policy=self._read_policy
                )
            except _aerospike_error() as exc:
                self.counters.add("errors")
                raise BackendUnavailable(f"{self.name}: {exc}") from exc
            for i, record in zip(asked, batch.batch_records, strict=True):
                out[i] = self._entry(record)
        hits = sum(1 for e in out if e is not None)
        self.counters.add_many(hits=hits, misses=len(keys) - hits)
        return out

    def _entry(self, record: Any) -> Entry | None:
        if record.result == _KEY_NOT_FOUND or record.record is None:
            return None
        if record.result != 0:
            self.counters.add("errors")
            return None
        bins = dict(record.record[2] or {})
        dict_hash = bins.pop(HASH_BIN, None)
        if not isinstance(dict_hash, int) or not bins:
            self.counters.add("corrupt")
            return None
        return Entry(dict_hash, bins)

    def put_many(self, items: Sequence[tuple[str, Entry]], ttl_ms: int) -> None:
        self.put_bins(
            [(key, {**entry.values, HASH_BIN: entry.dict_hash}) for key, entry in items], ttl_ms
        )

    def put_bins(self, items: Sequence[tuple[str, dict[str, Any]]], ttl_ms: int) -> None:
        """Write raw bins (tests use it to plant records that are not entries)."""
        import aerospike

        meta = {"ttl": max(1, round(ttl_ms / 1000))}
        policy = {"key": aerospike.POLICY_KEY_SEND, **self._read_policy}
        sendable = [(key, bins) for key, bins in items if _sendable(key)]
        self.counters.add("corrupt", len(items) - len(sendable))
        try:
            for key, bins in sendable:
                self.client.put(self._key(key), bins, meta=meta, policy=policy)
        except _aerospike_error() as exc:
            self.counters.add("errors")
            raise BackendUnavailable(f"{self.name}: {exc}") from exc
        self.counters.add("writes", len(sendable))

    def close(self) -> None:
        self.client.close()
