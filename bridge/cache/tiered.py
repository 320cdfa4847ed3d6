"""mly's datastore: local memory → L1 → L2, behind one object per configured datastore.

Reads go tier by tier with one multi-get each, only for the keys still missing. An L1 hit is
copied to memory; an L2 hit is copied to memory and (in the background) to L1. An entry written
under another dictionary hash is a miss at that tier (mly only checks that when a client opts
in), so a model reloaded with a new vocabulary never serves predictions of the old one; an
entry that does not fit the reader's :class:`Shape` (its model's outputs) is a corrupt miss at
that tier, so another model's (or anybody's) entry under the same key is never served.

Writes go to memory at once and to L1/L2 on a background thread, so a slow or dead remote tier
never delays a prediction. ``ReadOnly`` tiers are never written, copies included.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bridge.cache.breaker import Breaker
from bridge.cache.counters import Counters
from bridge.cache.entry import Entry, Shape
from bridge.cache.memory import MemoryStore


@dataclasses.dataclass
class TieredCounters(Counters):
    local_hits: int = 0
    l1_hits: int = 0
    l2_hits: int = 0
    misses: int = 0
    hash_mismatches: int = 0
    l1_copies: int = 0
    writes: int = 0
    """Entries written after an evaluation (each counted once, whatever the tiers)."""
    dropped_writes: int = 0
    """Background writes dropped because the write queue was full."""


@dataclasses.dataclass(frozen=True)
class Tier:
    name: str  # "local", "l1" or "l2"
    store: MemoryStore | Breaker
    ttl_ms: int
    read_only: bool = False


class BackgroundWriter:
    """One daemon thread applying queued writes in order; bounded, never blocks the caller."""

    def __init__(self, name: str, on_drop: Callable[[int], None], capacity: int = 4096) -> None:
        self._queue: queue.Queue[tuple[Callable[[], None], int] | None] = queue.Queue(capacity)
        self._on_drop = on_drop
        self._thread = threading.Thread(
            target=self._run, name=f"mlbridge-writer-{name}", daemon=True
        )
        self._thread.start()

    def submit(self, task: Callable[[], None], count: int) -> None:
        try:
            self._queue.put_nowait((task, count))
        except queue.Full:
            self._on_drop(count)

    def flush(self) -> None:
        """Wait until every write queued so far has been applied (or dropped by its breaker)."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                task, _ = item
                task()  # Breaker-wrapped: does not raise for an unavailable tier
            except Exception:  # a bug in a store must not kill the writer
                pass
            finally:
                self._queue.task_done()


class TieredStore:
    """The configured datastore ``name``; thread-safe."""

    def __init__(
        self,
        name: str,
        *,
        local: Tier | None = None,
        l1: Tier | None = None,
        l2: Tier | None = None,
    ) -> None:
        self.name = name
        self.local = local
        self.l1 = l1
        self.l2 = l2
        self.counters = TieredCounters()
        self._writer = BackgroundWriter(name, lambda n: self.counters.add("dropped_writes", n))

    @property
    def tiers(self) -> list[Tier]:
        return [t for t in (self.local, self.l1, self.l2) if t is not None]

    def get_many(
        self, keys: Sequence[str], dict_hash: int, shape: Shape | None = None
    ) -> list[Entry | None]:
        return self._read(self.tiers, keys, dict_hash, shape)

    def _read(
        self, tiers: list[Tier], keys: Sequence[str], dict_hash: int, shape: Shape | None
    ) -> list[Entry | None]:
        """Look ``keys`` up in ``tiers``, in order, each tier asked only for what is missing."""
        results: list[Entry | None] = [None] * len(keys)
        pending = list(range(len(keys)))
        for tier in tiers:
            if not pending:
                break
            found = tier.store.get_many([keys[i] for i in pending])
            still: list[int] = []
            hits: list[int] = []
            mismatched = foreign = 0
            for i, entry in zip(pending, found, strict=True):
                if entry is None:
                    still.append(i)
                elif entry.dict_hash != dict_hash:
                    mismatched += 1
                    still.append(i)
                elif shape is not None and not shape.fits(entry.values):
                    foreign += 1
                    still.append(i)
                else:
                    results[i] = entry
                    hits.append(i)
            if foreign:
                tier.store.counters.add("corrupt", foreign)
            self.counters.add_many(
                **{"hash_mismatches": mismatched, f"{tier.name}_hits": len(hits)}
            )
            if hits and tier is not self.local:
                self._copy_up(tier, [(keys[i], results[i]) for i in hits])  # type: ignore[misc]
            pending = still
        if pending:
            self.counters.add("misses", len(pending))
        return results

    def get_one(self, key: str, dict_hash: int, shape: Shape | None = None) -> Entry | None:
        """:meth:`get_many` for one key, with a short path for a memory hit."""
        local = self.local
        if local is None or not isinstance(local.store, MemoryStore):
            return self.get_many((key,), dict_hash, shape)[0]
        entry = local.store.get_one(key)
        counters = self.counters
        if entry is not None and entry.dict_hash == dict_hash:
            if shape is None or shape.fits(entry.values):
                with counters.lock:
                    counters.local_hits += 1
                return entry
            local.store.counters.add("corrupt")
        elif entry is not None:
            counters.add("hash_mismatches")
        # Memory has answered (and counted its miss): ask the remote tiers only.
        remote = [t for t in (self.l1, self.l2) if t is not None]
        return self._read(remote, (key,), dict_hash, shape)[0]

    def _copy_up(self, source: Tier, items: list[tuple[str, Entry]]) -> None:
        if self.local is not None:
            self.local.store.put_many(items, self.local.ttl_ms)
        l1 = self.l1
        if source is self.l2 and l1 is not None and not l1.read_only:
            self.counters.add("l1_copies", len(items))
            self._writer.submit(lambda: l1.store.put_many(items, l1.ttl_ms), len(items))

    def put_many(self, items: Sequence[tuple[str, Entry]]) -> None:
        """Store freshly evaluated entries: memory now, L1 and L2 in the background."""
        if not items:
            return
        self.counters.add("writes", len(items))
        if self.local is not None:
            self.local.store.put_many(items, self.local.ttl_ms)
        remote = [t for t in (self.l1, self.l2) if t is not None and not t.read_only]
        if remote:
            batch = list(items)

            def write() -> None:
                for tier in remote:
                    tier.store.put_many(batch, tier.ttl_ms)

            self._writer.submit(write, len(batch))

    def flush(self) -> None:
        """Wait for background writes (tests and orderly shutdown)."""
        self._writer.flush()

    def snapshot(self) -> dict[str, Any]:
        """Every counter of this datastore, totals first, then per tier; the memory tier also
        says what it holds: ``entries`` and ``bytes`` (its accounted size, what ``SizeMB``
        bounds)."""
        out: dict[str, Any] = self.counters.snapshot()
        tiers: dict[str, dict[str, int]] = {}
        for t in self.tiers:
            tiers[t.name] = t.store.counters.snapshot()
            if isinstance(t.store, MemoryStore):
                tiers[t.name]["entries"] = len(t.store)
                tiers[t.name]["bytes"] = t.store.accounted_bytes
            if isinstance(t.store, Breaker):
                tiers[t.name]["breaker_open"] = int(t.store.is_open)
        for name in ("errors", "down", "expired", "corrupt", "evictions"):
            out[name] = sum(c[name] for c in tiers.values())
        out["tiers"] = tiers
        return out

    def close(self) -> None:
        self._writer.close()
        for tier in self.tiers:
            tier.store.close()
