"""A configured ``Datastores[]`` entry → a :class:`TieredStore` with live connections."""

from __future__ import annotations

from bridge.cache.backend import Backend
from bridge.cache.breaker import Breaker
from bridge.cache.memory import MemoryStore
from bridge.cache.tiered import Tier, TieredStore
from bridge.config import Config, Datastore, Reference


def open_datastore(spec: Datastore, config: Config) -> TieredStore:
    """Connect every tier. Nothing is contacted yet for Redis (it connects on first use);
    an unreachable Aerospike starts with its breaker open rather than failing the load."""
    local = None
    if spec.cache is not None:
        local = Tier(
            "local", MemoryStore(f"{spec.id}.local", spec.cache.size_mb), spec.time_to_live_ms
        )
    l1 = _remote("l1", spec, spec.l1, config)
    l2 = _remote("l2", spec, spec.l2, config)
    return TieredStore(spec.id, local=local, l1=l1, l2=l2)


def _remote(tier: str, spec: Datastore, ref: Reference | None, config: Config) -> Tier | None:
    if ref is None:
        return None
    conn = config.connection(ref.connection)
    name = f"{spec.id}.{tier}"
    backend: Backend
    # Each client is imported with the first tier that uses it: redis-py alone is ~6 MB of a
    # server's RSS, which a memory-only datastore does not need.
    if conn.kind == "redis":
        from bridge.cache.redis_store import RedisStore

        backend = RedisStore.connect(name, conn, ref.namespace, ref.dataset)
    else:
        from bridge.cache.aerospike_store import AerospikeStore

        backend = AerospikeStore.connect(name, conn, ref.namespace, ref.dataset)
    return Tier(tier, Breaker(backend, conn.backoff), ref.time_to_live_ms, ref.read_only)
