"""The prediction cache: dictionary-normalised keys → model outputs, in memory, Redis or
Aerospike, tiered as mly tiers them (local → L1 → L2).

Every backend implements one small protocol (:class:`Backend`: ``get_many`` / ``put_many``
with a TTL); remote backends sit behind a :class:`Breaker`, so an unreachable server costs a
miss, not an error; :class:`TieredStore` is one configured datastore. See ``README.md`` here.
"""

from bridge.cache.backend import Backend, BackendUnavailable
from bridge.cache.breaker import Breaker
from bridge.cache.counters import Counters, StoreCounters
from bridge.cache.entry import CorruptEntryError, Entry, Shape, decode, encode
from bridge.cache.memory import MemoryStore
from bridge.cache.singleflight import Group
from bridge.cache.tiered import Tier, TieredCounters, TieredStore

__all__ = [
    "Backend",
    "BackendUnavailable",
    "Breaker",
    "CorruptEntryError",
    "Counters",
    "Entry",
    "Group",
    "MemoryStore",
    "Shape",
    "StoreCounters",
    "Tier",
    "TieredCounters",
    "TieredStore",
    "decode",
    "encode",
]
