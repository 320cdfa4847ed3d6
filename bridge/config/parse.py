"""mly YAML → :class:`~bridge.config.model.Config`.

Keys are case-insensitive, as in mly (its converter matches field names ignoring case). Unlike
mly, a key that is neither ours nor mly's is an error: a typo (``TimeToLiveMS`` is fine,
``TimeToLifeMs`` is not) would otherwise silently fall back to a default. mly keys we accept but
do not implement are listed per section in ``_IGNORED``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bridge.config.model import (
    DEFAULT_RETRY_TIME_MS,
    DEFAULT_TTL_MS,
    CacheSettings,
    Config,
    Connection,
    ConnectionKind,
    Datastore,
    Field,
    Model,
    Reference,
    Timeout,
)
from bridge.errors import LoadError

# mly keys that are valid in a configuration but have no effect here.
_IGNORED: dict[str, frozenset[str]] = {
    "": frozenset(
        {"globalbatching", "metrics", "enablememprof", "enablecpuprof", "tls", "allowedsubnet"}
    ),
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
            "batch",
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
}


class ConfigError(LoadError):
    """A configuration problem; ``path`` names the key (``Models[1].Datastore``)."""

    def __init__(self, path: str, problem: str, source: str = "") -> None:
        self.path = path
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {problem}" if path else f"{where}{problem}")


class _Section:
    """One mapping of the document, read case-insensitively, remembering its key path."""

    def __init__(self, raw: Any, path: str, kind: str) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected a mapping, got {_type_name(raw)}")
        self.path = path
        self.kind = kind
        self._values: dict[str, Any] = {}
        self._names: dict[str, str] = {}
        for key, value in raw.items():
            if not isinstance(key, str):
                raise ConfigError(path, f"key {key!r} is not a string")
            folded = key.lower()
            if folded in self._values:
                raise ConfigError(self.sub(key), f"given twice (as {self._names[folded]!r} too)")
            self._values[folded] = value
            self._names[folded] = key
        self._used: set[str] = set()

    def sub(self, name: str) -> str:
        """The key path of ``name``, spelled as the file spells it."""
        name = self._names.get(name.lower(), name)
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name.lower() in self._values and self._values[name.lower()] is not None

    def raw(self, name: str) -> Any:
        self._used.add(name.lower())
        return self._values.get(name.lower())

    def string(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.raw(name)
        if value is None:
            if required:
                raise ConfigError(self.sub(name), "required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(self.sub(name), f"expected a string, got {_type_name(value)}")
        text = str(value)
        if required and not text.strip():
            raise ConfigError(self.sub(name), "must not be empty")
        return text

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(self.sub(name), f"expected true or false, got {value!r}")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.sub(name), f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(self.sub(name), f"expected a finite number, got {value!r}")
        return float(value)

    def integer(self, name: str, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.sub(name), f"expected an integer, got {value!r}")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        if isinstance(value, str):  # mly accepts comma-separated lists (Hostnames)
            return tuple(p.strip() for p in value.split(",") if p.strip())
        if not isinstance(value, list):
            raise ConfigError(self.sub(name), f"expected a list, got {_type_name(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{self.sub(name)}[{i}]", f"expected a name, got {item!r}")
            out.append(item)
        return tuple(out)

    def items(self, name: str) -> list[tuple[str, Any]]:
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(self.sub(name), f"expected a list, got {_type_name(value)}")
        return [(f"{self.sub(name)}[{i}]", item) for i, item in enumerate(value)]

    def section(self, name: str, kind: str) -> _Section | None:
        value = self.raw(name)
        return None if value is None else _Section(value, self.sub(name), kind)

    def finish(self) -> None:
        """Reject keys that nobody read and that mly does not define either."""
        ignored = _IGNORED.get(self.kind, frozenset())
        for folded, original in self._names.items():
            if folded not in self._used and folded not in ignored:
                raise ConfigError(self.sub(original), "unknown key")


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


def _nonnegative_ms(section: _Section, name: str, default: int) -> int:
    value = section.integer(name, default)
    if value < 0:
        raise ConfigError(section.sub(name), f"must be >= 0, got {value}")
    return value or default  # mly: 0 means "the default"


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file (YAML or JSON)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read: {exc.strerror or exc}", str(file)) from exc
    return parse_config(text, source=str(file), base_dir=file.parent)


def parse_config(text: str, *, source: str = "<memory>", base_dir: Path | None = None) -> Config:
    """Parse configuration text; relative model URLs are resolved against ``base_dir``."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("", f"not valid YAML: {exc}", source) from exc
    try:
        return _config(document, source, base_dir or Path.cwd())
    except ConfigError as exc:
        if exc.source:
            raise
        raise ConfigError(exc.path, exc.problem, source) from None


def _config(document: Any, source: str, base_dir: Path) -> Config:
    if document is None:
        raise ConfigError("", "empty configuration")
    top = _Section(document, "", "")
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
    endpoint_section = top.section("Endpoint", "endpoint")
    endpoint: dict[str, Any] = {}
    if endpoint_section is not None:
        endpoint = {k: endpoint_section.raw(k) for k in endpoint_section._names}
    top.finish()
    return Config(models, datastores, connections, endpoint, source)


def _unique(items: Sequence[Model | Datastore | Connection], path: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.id in seen:
            raise ConfigError(f"{path}[{i}].ID", f"{item.id!r} is also {path}[{seen[item.id]}]")
        seen[item.id] = i


def _model(path: str, raw: Any, base_dir: Path, datastores: set[str]) -> Model:
    s = _Section(raw, path, "model")
    model_id = s.string("ID", required=True)
    if "/" in model_id or any(c.isspace() for c in model_id):
        raise ConfigError(s.sub("ID"), f"{model_id!r}: no '/' or spaces (it names functions)")
    url = Path(os.path.expandvars(s.string("URL", required=True))).expanduser()
    if not url.is_absolute():
        url = base_dir / url
    inputs = tuple(_field(p, item) for p, item in s.items("Inputs"))
    names = [f.name for f in inputs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{s.sub('Inputs')}[{i}].Name", f"{name!r} is given twice")
    key_fields = s.strings("KeyFields")
    datastore = s.string("DataStore")
    if datastore and datastore not in datastores:
        raise ConfigError(s.sub("DataStore"), f'no datastore "{datastore}"')
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
    )
    s.finish()
    return model


def _field(path: str, raw: Any) -> Field:
    s = _Section(raw, path, "field")
    precision = s.integer("Precision", 0)
    if precision < 0 or precision > 15:
        raise ConfigError(s.sub("Precision"), f"must be between 0 and 15, got {precision}")
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
    s = _Section(raw, path, "datastore")
    datastore_id = s.string("ID", required=True)
    cache: CacheSettings | None = None
    cache_section = s.section("Cache", "cache")
    if cache_section is not None:
        size = cache_section.number("SizeMB", 1.0)  # scache's default
        if size <= 0:
            raise ConfigError(cache_section.sub("SizeMB"), f"must be > 0, got {size:g}")
        cache = CacheSettings(size_mb=size)
        cache_section.finish()
    ttl = _nonnegative_ms(s, "TimeToLiveMs", DEFAULT_TTL_MS)
    read_only = s.boolean("ReadOnly")
    l1: Reference | None = None
    if s.has("Connection"):
        l1 = _reference_fields(s, connections, ttl, read_only)
    else:
        for name in ("Namespace", "Dataset"):
            if s.has(name):
                raise ConfigError(s.sub(name), "given without a Connection")
    l2: Reference | None = None
    l2_section = s.section("L2", "reference")
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
    s: _Section, connections: set[str], default_ttl: int, default_read_only: bool
) -> Reference:
    connection = s.string("Connection", required=True)
    if connection not in connections:
        raise ConfigError(s.sub("Connection"), f'no connection "{connection}"')
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
        time_to_live_ms=_nonnegative_ms(s, "TimeToLiveMs", default_ttl),
        read_only=s.boolean("ReadOnly", default_read_only),
    )


_UNIT_MS = {"ms": 1.0, "sec": 1000.0, "s": 1000.0, "min": 60_000.0}


def _connection(path: str, raw: Any) -> Connection:
    s = _Section(raw, path, "connection")
    connection_id = s.string("ID", required=True)
    hostnames = s.strings("Hostnames")
    if not hostnames:
        raise ConfigError(s.sub("Hostnames"), "required")
    kind_text = s.string("Kind", default="aerospike").lower()
    if kind_text not in ("aerospike", "redis"):
        raise ConfigError(s.sub("Kind"), f"expected aerospike or redis, got {kind_text!r}")
    kind: ConnectionKind = "redis" if kind_text == "redis" else "aerospike"
    port = s.integer("Port", 6379 if kind == "redis" else 3000)
    if not 0 < port < 65536:
        raise ConfigError(s.sub("Port"), f"not a port number: {port}")
    timeout = Timeout()
    t = s.section("Timeout", "timeout")
    if t is not None:
        unit = t.string("Unit", default="ms").lower()
        if unit not in _UNIT_MS:
            raise ConfigError(t.sub("Unit"), f"expected ms, sec or min, got {unit!r}")
        scale = _UNIT_MS[unit]
        values = {}
        for name, default in (("Connection", 800.0), ("Socket", 400.0), ("Total", 450.0)):
            value = t.number(name, default / scale)
            if value <= 0:
                raise ConfigError(t.sub(name), f"must be > 0, got {value:g}")
            values[name] = value * scale
        timeout = Timeout(values["Connection"], values["Socket"], values["Total"])
        t.finish()
    backoff = s.number("BackoffMs", 1_000)
    max_backoff = s.number("MaxBackoffMs", 30_000)
    if backoff <= 0 or max_backoff < backoff:
        raise ConfigError(s.sub("BackoffMs"), "must be > 0 and <= MaxBackoffMs")
    connection = Connection(
        id=connection_id,
        hostnames=hostnames,
        port=port,
        kind=kind,
        timeout=timeout,
        backoff_ms=backoff,
        max_backoff_ms=max_backoff,
    )
    s.finish()
    return connection
