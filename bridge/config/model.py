"""Typed mly configuration: ``Models``, ``Datastores``, ``Connections`` and ``Endpoint``.

The field names follow mly (``service/config/model.go``, ``shared/config/datastore.go``,
``shared/config/datastore/connection.go``); the defaults are mly's unless a comment says why not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_TTL_MS = 900_000
"""mly's ``TimeToLiveMs`` default: 15 minutes."""

MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000
"""The longest ``TimeToLiveMs`` accepted: 100 years, inside what every store can be told
(Redis's ``PX`` overflows past 2^63 - 1 ms from now; Aerospike's record TTL is 32-bit seconds)."""

DEFAULT_RETRY_TIME_MS = 5_000

DEFAULT_RELOAD_INTERVAL_MS = 60_000
"""How often a model's ``URL`` is polled for a new version (mly: every minute)."""

ConnectionKind = Literal["aerospike", "redis"]


@dataclass(frozen=True)
class Field:
    """One model input (or key-only field) and how it enters the cache key."""

    name: str
    data_type: str = ""
    """``string`` / ``int`` / ``float`` …; empty means "from the model signature"."""
    wildcard: bool = False
    """No vocabulary: the raw value goes into the key."""
    precision: int = 0
    """Decimals a float is rounded to, in the key and in what the model receives."""
    auxiliary: bool = False
    """Accepted in a row but not fed to the model."""


@dataclass(frozen=True)
class Batch:
    """Server-side batching: mly's ``Batch`` (per model) or ``GlobalBatching`` section.

    ``0`` leaves a setting to the HTTP server's default (mly: ``MaxBatchSize`` 0 = unbounded,
    ``MaxQueuedBatches`` 16384). ``BatchWait`` (nanoseconds) and ``BatchWaitMicros`` both set
    the wait; a negative one means no wait (mly normalises it to 0: immediate dispatch).
    """

    max_batch_size: int = 0
    """Rows-carrying requests coalesced into one model call at most."""
    batch_wait_micros: int = 500
    """How long the first request of a batch waits for others (mly's default 500 µs)."""
    max_evaluator_concurrency: int = 0
    """Model calls in flight at once."""
    max_queued_batches: int = 0
    """Batches that may wait; past them a request is refused with 429."""


@dataclass(frozen=True)
class Endpoint:
    """mly's ``Endpoint`` (``service/endpoint/config/endpoint.go``) with its defaults.

    ``Host`` is ours (mly listens on every interface, which ``""`` keeps).
    """

    port: int = 8080
    host: str = ""
    buffer_size: int = 131_072
    """The largest request body in bytes; a larger one gets 413."""
    read_timeout_ms: int = 5_000
    write_timeout_ms: int = 5_000
    max_header_bytes: int = 8_192
    auth_token_file: str = ""
    """Ours: a file holding the bearer token every path but health and readiness needs."""


@dataclass(frozen=True)
class Access:
    """mly's top-level ``AllowedSubnet``, ``TLS`` and ``EnableCPUProf``/``EnableMemProf``."""

    allowed_subnet: tuple[str, ...] = ()
    """CIDR ranges for the config, admin and debug paths; empty: no limit (as mly). mly's
    string prefixes (``"10."``) are read as the ranges they mean (``10.0.0.0/8``)."""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    enable_cpu_prof: bool = False
    enable_mem_prof: bool = False


@dataclass(frozen=True)
class Model:
    id: str
    url: Path
    """The SavedModel directory; a relative URL is resolved against the config file's folder."""
    inputs: tuple[Field, ...] = ()
    key_fields: tuple[str, ...] = ()
    """Empty means every model input: configured ones in order, then the others by name."""
    datastore: str = ""
    use_dict: bool = True
    tags: tuple[str, ...] = ("serve",)
    debug: bool = False
    reload_interval_ms: int = DEFAULT_RELOAD_INTERVAL_MS
    """Ours (mly: a fixed minute): poll period for hot reload (:mod:`bridge.mly.reload`)."""
    batch: Batch | None = None
    """``None``: the configuration's ``GlobalBatching`` (see :meth:`Config.batching`)."""


@dataclass(frozen=True)
class CacheSettings:
    """The in-process memory tier (mly's ``Cache``: scache)."""

    size_mb: float


@dataclass(frozen=True)
class Reference:
    """Where a tier lives: a connection plus Aerospike namespace/set (Redis: key prefix)."""

    connection: str
    namespace: str
    dataset: str
    time_to_live_ms: int = DEFAULT_TTL_MS
    read_only: bool = False


@dataclass(frozen=True)
class Datastore:
    id: str
    cache: CacheSettings | None = None
    l1: Reference | None = None
    """mly writes L1's fields inline on the datastore (``Connection``, ``Namespace``, …)."""
    l2: Reference | None = None
    time_to_live_ms: int = DEFAULT_TTL_MS
    retry_time_ms: int = DEFAULT_RETRY_TIME_MS
    read_only: bool = False
    disabled: bool = False


DEFAULT_PORTS: Mapping[ConnectionKind, int] = {"aerospike": 3000, "redis": 6379}
"""The port of a connection that does not give one (each server's own default)."""


@dataclass(frozen=True)
class Timeout:
    """mly's connection timeouts, normalised to milliseconds.

    These defaults (mly's) are the only ones: the stores take a :class:`Connection` and have
    none of their own.
    """

    connection_ms: float = 800
    """Opening a connection."""
    socket_ms: float = 400
    """One network read or write."""
    total_ms: float = 450
    """One whole operation, retries included (Aerospike)."""


@dataclass(frozen=True)
class Backoff:
    """Circuit breaker timing (:class:`bridge.cache.Breaker`): after a failure a tier is down
    for ``initial_ms`` (mly: 1 s), doubled on each failed probe up to ``max_ms``."""

    initial_ms: float = 1_000
    max_ms: float = 30_000


@dataclass(frozen=True)
class Connection:
    id: str
    hostnames: tuple[str, ...]
    port: int
    kind: ConnectionKind = "aerospike"
    """Ours: mly only speaks Aerospike; ``Kind: redis`` selects the Redis client."""
    timeout: Timeout = field(default_factory=Timeout)
    backoff: Backoff = field(default_factory=Backoff)
    """``BackoffMs`` and ``MaxBackoffMs`` in the file."""


@dataclass(frozen=True)
class Config:
    models: tuple[Model, ...]
    datastores: tuple[Datastore, ...] = ()
    connections: tuple[Connection, ...] = ()
    endpoint: Endpoint = field(default_factory=Endpoint)
    source: str = "<memory>"
    global_batching: Batch | None = None
    access: Access = field(default_factory=Access)

    def batching(self, model: Model) -> Batch | None:
        """The model's batching: its own ``Batch``, else ``GlobalBatching``, else ``None``."""
        return model.batch if model.batch is not None else self.global_batching

    def datastore(self, datastore_id: str) -> Datastore:
        for d in self.datastores:
            if d.id == datastore_id:
                return d
        raise KeyError(f"{self.source}: no datastore {datastore_id!r}")

    def connection(self, connection_id: str) -> Connection:
        for c in self.connections:
            if c.id == connection_id:
                return c
        raise KeyError(f"{self.source}: no connection {connection_id!r}")
