"""mly's configuration schema: a document → :class:`~bridge.config.model.Config`.

What each section holds, which keys are required, how sections refer to each other (a model's
``DataStore``, a datastore's ``Connection``) and mly's rules (``0`` means "the default"). The
reading itself (case-insensitive keys, key paths in errors) is :mod:`bridge.config.reader`;
the defaults are the dataclasses' in :mod:`bridge.config.model`.

Unlike mly, a key that is neither ours nor mly's is an error: a typo (``TimeToLiveMS`` is fine,
``TimeToLifeMs`` is not) would otherwise silently fall back to a default. mly keys we accept but
do not implement are listed per section in ``_IGNORED``.

Over 400 lines because it is the whole schema, one small function per section, so that what a
configuration may hold reads top to bottom in one place.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridge.config.model import (
    DEFAULT_PORTS,
    DEFAULT_RELOAD_INTERVAL_MS,
    DEFAULT_RETRY_TIME_MS,
    DEFAULT_TTL_MS,
    MAX_TTL_MS,
    Access,
    Backoff,
    Batch,
    CacheSettings,
    Config,
    Connection,
    ConnectionKind,
    Datastore,
    Endpoint,
    Field,
    Model,
    Reference,
    Timeout,
)
from bridge.config.reader import (
    ConfigError,
    Section,
    errors_from,
    parse_yaml,
    read_text,
    shown,
    shown_text,
)

# mly keys that are valid in a configuration but have no effect here.
_IGNORED: dict[str, frozenset[str]] = {
    "": frozenset({"metrics"}),
    "model": frozenset(
        {
            "location",
            "dir",
            "dicturl",
            "auxiliary",
            "outputs",
            "outputtype",
            "transformer",
            "stream",
            "test",
            "modified",
            "dictmeta",
        }
    ),
    "field": frozenset({"index"}),
    "datastore": frozenset({"storable", "fields", "debug"}),
    "cache": frozenset({"maxentries", "entrysize", "shards", "location"}),
    "reference": frozenset({"retrytimems"}),
    "connection": frozenset(),
    "timeout": frozenset(),
    # mly's global TF semaphore and body-buffer pool: our runtime has neither.
    "endpoint": frozenset(
        {"poolmaxsize", "maxevaluatorwaitms", "maxevaluatorwait", "maxevaluatorconcurrency"}
    ),
    "batch": frozenset({"timeoutadjustments", "verbose"}),
}


def _nonnegative_ms(section: Section, name: str, default: int) -> int:
    value = section.integer(name, default)
    if value < 0:
        raise ConfigError(section.sub(name), f"must be >= 0, got {shown(value)}")
    return value or default  # mly: 0 means "the default"


def _ttl_ms(section: Section, default: int) -> int:
    """``TimeToLiveMs``: a store refuses a TTL past its range on every write, so it is
    refused here, at load, instead."""
    value = _nonnegative_ms(section, "TimeToLiveMs", default)
    if value > MAX_TTL_MS:
        raise ConfigError(
            section.sub("TimeToLiveMs"),
            f"must be at most {MAX_TTL_MS} (100 years), got {shown(value)}",
        )
    return value


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file (YAML or JSON)."""
    file = Path(path)
    return parse_config(read_text(file), source=str(file), base_dir=file.parent)


def parse_config(text: str, *, source: str = "<memory>", base_dir: Path | None = None) -> Config:
    """Parse configuration text; relative model URLs are resolved against ``base_dir``."""
    document = parse_yaml(text, source)
    with errors_from(source):
        return _config(document, source, base_dir or Path.cwd())


def _config(document: Any, source: str, base_dir: Path) -> Config:
    if document is None:
        raise ConfigError("", "empty configuration")
    top = Section(document, "", _IGNORED[""])
    connections = tuple(_connection(p, raw) for p, raw in top.items("Connections"))
    _unique(connections, "Connections")
    datastore_items = top.items("Datastores")
    if connections and not datastore_items:
        raise ConfigError("Connections", "given without any Datastores")  # as mly
    known_connections = {c.id for c in connections}
    datastores = tuple(_datastore(p, raw, known_connections) for p, raw in datastore_items)
    _unique(datastores, "Datastores")
    model_items = top.items("Models")
    if not model_items:
        raise ConfigError("Models", "at least one model is required")
    known_datastores = {d.id for d in datastores}
    models = tuple(_model(p, raw, base_dir, known_datastores) for p, raw in model_items)
    _unique(models, "Models")
    endpoint = _endpoint(top.section("Endpoint", _IGNORED["endpoint"]))
    global_batching = _batch(top.section("GlobalBatching", _IGNORED["batch"]))
    access = _access(top)
    top.finish()
    return Config(models, datastores, connections, endpoint, source, global_batching, access)


def _access(top: Section) -> Access:
    subnets = tuple(
        _cidr(f"{top.sub('AllowedSubnet')}[{i}]", entry)
        for i, entry in enumerate(top.strings("AllowedSubnet"))
    )
    tls = top.section("TLS")
    cert = key = ""
    if tls is not None:
        cert, key = tls.string("CertFile"), tls.string("KeyFile")
        if bool(cert) != bool(key):
            missing = "CertFile" if not cert else "KeyFile"
            raise ConfigError(tls.sub(missing), "required with the other")
        tls.finish()
    return Access(
        allowed_subnet=subnets,
        tls_cert_file=cert,
        tls_key_file=key,
        enable_cpu_prof=top.boolean("EnableCPUProf"),
        enable_mem_prof=top.boolean("EnableMemProf"),
    )


def _cidr(path: str, entry: str) -> str:
    """A CIDR range, an address (one host), or mly's prefix of dotted octets (``"10."``)."""
    try:
        return str(ipaddress.ip_network(entry, strict=False))
    except ValueError:
        pass
    octets = entry.split(".")
    if entry.endswith(".") and 2 <= len(octets) <= 4 and all(o.isdigit() for o in octets[:-1]):
        known = octets[:-1]
        address = ".".join(known + ["0"] * (4 - len(known)))
        try:
            return str(ipaddress.ip_network(f"{address}/{8 * len(known)}"))
        except ValueError:
            pass
    raise ConfigError(path, f"{entry!r} is not a CIDR range, an address or a prefix like '10.'")


def _endpoint(s: Section | None) -> Endpoint:
    if s is None:
        return Endpoint()
    default = Endpoint()
    port = s.integer("Port", default.port)
    if not 0 <= port <= 65535:
        raise ConfigError(s.sub("Port"), f"must be between 0 and 65535, got {port}")
    endpoint = Endpoint(
        port=port,  # ours: 0 picks a free port (mly would take 8080)
        host=s.string("Host"),
        buffer_size=_positive(s, "BufferSize", default.buffer_size),
        read_timeout_ms=_positive(s, "ReadTimeoutMs", default.read_timeout_ms),
        write_timeout_ms=_positive(s, "WriteTimeoutMs", default.write_timeout_ms),
        max_header_bytes=_positive(s, "MaxHeaderBytes", default.max_header_bytes),
        auth_token_file=s.string("AuthTokenFile"),
    )
    s.raw("WriteTimeout")  # mly's Duration form of WriteTimeoutMs, derived from it
    s.finish()
    return endpoint


def _positive(s: Section, name: str, default: int) -> int:
    value = s.integer(name, default)
    if value < 0:
        raise ConfigError(s.sub(name), f"must be >= 0, got {value}")
    return value or default  # mly: 0 means "the default"


def _batch(s: Section | None) -> Batch | None:
    if s is None:
        return None
    wait = Batch().batch_wait_micros
    if s.has("BatchWait"):  # a Go time.Duration: nanoseconds
        wait = s.integer("BatchWait", 0) // 1000
    if s.has("BatchWaitMicros"):
        wait = s.integer("BatchWaitMicros", 0)
    batch = Batch(
        max_batch_size=_nonnegative(s, "MaxBatchSize"),
        batch_wait_micros=max(wait, 0),
        max_evaluator_concurrency=_nonnegative(s, "MaxEvaluatorConcurrency"),
        max_queued_batches=_nonnegative(s, "MaxQueuedBatches"),
    )
    s.finish()
    return batch


def _nonnegative(s: Section, name: str) -> int:
    value = s.integer(name, 0)
    if value < 0:
        raise ConfigError(s.sub(name), f"must be >= 0, got {value}")
    return value


def _unique(items: Sequence[Model | Datastore | Connection], path: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.id in seen:
            raise ConfigError(
                f"{path}[{i}].ID", f"{shown(item.id)} is also {path}[{seen[item.id]}]"
            )
        seen[item.id] = i


def _model(path: str, raw: Any, base_dir: Path, datastores: set[str]) -> Model:
    s = Section(raw, path, _IGNORED["model"])
    model_id = s.string("ID", required=True)
    if "/" in model_id or any(c.isspace() for c in model_id):
        raise ConfigError(s.sub("ID"), f"{shown(model_id)}: no '/' or spaces (it names functions)")
    url = Path(os.path.expandvars(s.string("URL", required=True))).expanduser()
    if not url.is_absolute():
        url = base_dir / url
    inputs = tuple(_field(p, item) for p, item in s.items("Inputs"))
    names = [f.name for f in inputs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{s.sub('Inputs')}[{i}].Name", f"{shown(name)} is given twice")
    key_fields = s.strings("KeyFields")
    datastore = s.string("DataStore")
    if datastore and datastore not in datastores:
        raise ConfigError(s.sub("DataStore"), f'no datastore "{shown_text(datastore)}"')
    tags = s.strings("Tags") or ("serve",)
    model = Model(
        id=model_id,
        url=url,
        inputs=inputs,
        key_fields=key_fields,
        datastore=datastore,
        use_dict=s.boolean("UseDict", True),
        tags=tags,
        debug=s.boolean("Debug"),
        reload_interval_ms=_nonnegative_ms(s, "ReloadIntervalMs", DEFAULT_RELOAD_INTERVAL_MS),
        batch=_batch(s.section("Batch", _IGNORED["batch"])),
    )
    s.finish()
    return model


def _field(path: str, raw: Any) -> Field:
    s = Section(raw, path, _IGNORED["field"])
    precision = s.integer("Precision", 0)
    if precision < 0 or precision > 15:
        raise ConfigError(s.sub("Precision"), f"must be between 0 and 15, got {shown(precision)}")
    field = Field(
        name=s.string("Name", required=True),
        data_type=s.string("DataType").lower(),
        wildcard=s.boolean("Wildcard"),
        precision=precision,
        auxiliary=s.boolean("Auxiliary"),
    )
    s.finish()
    return field


def _datastore(path: str, raw: Any, connections: set[str]) -> Datastore:
    s = Section(raw, path, _IGNORED["datastore"])
    datastore_id = s.string("ID", required=True)
    cache: CacheSettings | None = None
    cache_section = s.section("Cache", _IGNORED["cache"])
    if cache_section is not None:
        size = cache_section.number("SizeMB", 1.0)  # scache's default
        if size <= 0:
            raise ConfigError(cache_section.sub("SizeMB"), f"must be > 0, got {size:g}")
        cache = CacheSettings(size_mb=size)
        cache_section.finish()
    ttl = _ttl_ms(s, DEFAULT_TTL_MS)
    read_only = s.boolean("ReadOnly")
    l1: Reference | None = None
    if s.has("Connection"):
        l1 = _reference_fields(s, connections, ttl, read_only)
    else:
        for name in ("Namespace", "Dataset"):
            if s.has(name):
                raise ConfigError(s.sub(name), "given without a Connection")
    l2: Reference | None = None
    l2_section = s.section("L2", _IGNORED["reference"])
    if l2_section is not None:
        if l1 is None:
            raise ConfigError(l2_section.path, "an L2 needs an L1 (Connection) first")
        # mly never initialises L2 and writes it with L1's TTL; here L2 has its own TTL,
        # inheriting the datastore's only when it does not set one.
        l2 = _reference_fields(l2_section, connections, ttl, False)
        l2_section.finish()
    store = Datastore(
        id=datastore_id,
        cache=cache,
        l1=l1,
        l2=l2,
        time_to_live_ms=ttl,
        retry_time_ms=_nonnegative_ms(s, "RetryTimeMs", DEFAULT_RETRY_TIME_MS),
        read_only=read_only,
        disabled=s.boolean("Disabled"),
    )
    s.finish()
    return store


def _reference_fields(
    s: Section, connections: set[str], default_ttl: int, default_read_only: bool
) -> Reference:
    connection = s.string("Connection", required=True)
    if connection not in connections:
        raise ConfigError(s.sub("Connection"), f'no connection "{shown_text(connection)}"')
    namespace = s.string("Namespace")
    dataset = s.string("Dataset")
    if not namespace:
        raise ConfigError(s.sub("Namespace"), "required with a Connection")
    if not dataset:
        raise ConfigError(s.sub("Dataset"), "required with a Connection")
    return Reference(
        connection=connection,
        namespace=namespace,
        dataset=dataset,
        time_to_live_ms=_ttl_ms(s, default_ttl),
        read_only=s.boolean("ReadOnly", default_read_only),
    )


_UNIT_MS = {"ms": 1.0, "sec": 1000.0, "s": 1000.0, "min": 60_000.0}


def _connection(path: str, raw: Any) -> Connection:
    s = Section(raw, path, _IGNORED["connection"])
    connection_id = s.string("ID", required=True)
    hostnames = s.strings("Hostnames")
    if not hostnames:
        raise ConfigError(s.sub("Hostnames"), "required")
    kind_text = s.string("Kind", default="aerospike").lower()
    if kind_text not in ("aerospike", "redis"):
        raise ConfigError(s.sub("Kind"), f"expected aerospike or redis, got {shown(kind_text)}")
    kind: ConnectionKind = "redis" if kind_text == "redis" else "aerospike"
    port = s.integer("Port", DEFAULT_PORTS[kind])
    if not 0 < port < 65536:
        raise ConfigError(s.sub("Port"), f"not a port number: {shown(port)}")
    timeout = Timeout()
    t = s.section("Timeout", _IGNORED["timeout"])
    if t is not None:
        unit = t.string("Unit", default="ms").lower()
        if unit not in _UNIT_MS:
            raise ConfigError(t.sub("Unit"), f"expected ms, sec or min, got {shown(unit)}")
        scale = _UNIT_MS[unit]
        defaults = Timeout()
        values = {}
        for name, default in (
            ("Connection", defaults.connection_ms),
            ("Socket", defaults.socket_ms),
            ("Total", defaults.total_ms),
        ):
            value = t.number(name, default / scale)
            if value <= 0:
                raise ConfigError(t.sub(name), f"must be > 0, got {value:g}")
            values[name] = value * scale
        timeout = Timeout(values["Connection"], values["Socket"], values["Total"])
        t.finish()
    default_backoff = Backoff()
    backoff = s.number("BackoffMs", default_backoff.initial_ms)
    max_backoff = s.number("MaxBackoffMs", default_backoff.max_ms)
    if backoff <= 0 or max_backoff < backoff:
        raise ConfigError(s.sub("BackoffMs"), "must be > 0 and <= MaxBackoffMs")
    connection = Connection(
        id=connection_id,
        hostnames=hostnames,
        port=port,
        kind=kind,
        timeout=timeout,
        backoff=Backoff(backoff, max_backoff),
    )
    s.finish()
    return connection
