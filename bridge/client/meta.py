"""What a client learns from the server: ``/meta/config`` (mly's ``config.Remote``) and
``/meta/dictionary``, turned into the server's own key rules and datastore settings.

The fields go through :func:`bridge.mly.keys.make_field` and :class:`~bridge.mly.keys.KeyBuilder`,
the code the server keys rows with, so a row has one key wherever it is computed. The datastore
part goes through the configuration parser (:func:`bridge.config.parse_config`), as if it were a
``Datastores`` entry of a YAML file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bridge.config import CacheSettings, Config, ConfigError, Datastore, parse_config
from bridge.mly.keys import FieldSpec, KeyBuilder, make_field, needs_vocabulary
from bridge.models.dictionary import Dictionary

CacheScope = Literal["local", "local+l1", "local+l1+l2"]
CACHE_SCOPES: tuple[CacheScope, ...] = ("local", "local+l1", "local+l1+l2")

DEFAULT_CACHE_SIZE_MB = 64.0
"""The local cache's size when neither the server's datastore nor the caller gives one."""

# The config.Remote keys that are a datastore's (mly's config.Datastore with its inline L1
# Reference). The rest of the document is MetaInput (Inputs, KeyFields, Outputs) and Connections.
_DATASTORE_KEYS = frozenset(
    {"id", "cache", "connection", "namespace", "dataset", "timetolivems", "retrytimems", "l2"}
    | {"readonly", "disabled"}
)
_CONNECTION_KEYS = frozenset(
    {"id", "hostnames", "port", "kind", "timeout", "backoffms", "maxbackoffms"}
)


class MetaError(ValueError):
    """``/meta/config`` or ``/meta/dictionary`` is not what an mly server serves."""


@dataclass(frozen=True)
class ModelMeta:
    """The parts of ``/meta/config`` that the client uses."""

    fields: tuple[FieldSpec, ...]
    """Without vocabularies: :meth:`key_builder` adds the dictionary's."""
    key_fields: tuple[str, ...]
    outputs: tuple[str, ...]
    datastore: Config | None
    """A one-datastore configuration (``datastores[0]``), or ``None``: the model is not cached."""

    def key_builder(self, dictionary: Dictionary | None) -> KeyBuilder:
        fields = list(self.fields)
        if dictionary is not None:
            fields = [
                dataclasses.replace(f, layer=dictionary.layer(f.name))
                if needs_vocabulary(f, self.key_fields)
                else f
                for f in fields
            ]
        return KeyBuilder(fields, self.key_fields)

    def scoped(self, scope: CacheScope, cache_size_mb: float | None) -> Datastore | None:
        """The datastore this client reads: the server's, cut to ``scope``, with a local cache."""
        if self.datastore is None:
            return None
        spec = self.datastore.datastores[0]
        size = cache_size_mb or (spec.cache.size_mb if spec.cache else DEFAULT_CACHE_SIZE_MB)
        return dataclasses.replace(
            spec,
            cache=CacheSettings(size_mb=size),
            l1=spec.l1 if scope != "local" else None,
            l2=spec.l2 if scope == "local+l1+l2" else None,
        )


def datastore_from_config(model_id: str, config: Config) -> Config | None:
    """The model's datastore (and connections) in an mly configuration, such as the servers' own
    YAML: for servers whose ``/meta/config`` does not give connections out (ours does not:
    mly's Go client would dial a Redis connection as Aerospike)."""
    model = next((m for m in config.models if m.id == model_id), None)
    if model is None:
        raise MetaError(f"{config.source}: no model {model_id!r}")
    if not model.datastore:
        return None
    return dataclasses.replace(config, datastores=(config.datastore(model.datastore),))


def parse_meta_config(model_id: str, document: Any) -> ModelMeta:
    if not isinstance(document, Mapping):
        raise MetaError(f"meta/config: expected an object, got {type(document).__name__}")
    folded = {str(k).lower(): v for k, v in document.items()}
    key_fields = _names(folded.get("keyfields"), "KeyFields")
    auxiliary = set(_names(folded.get("auxiliary"), "Auxiliary"))  # mly's deprecated list
    inputs = folded.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise MetaError("meta/config: Inputs: expected a non-empty list")
    fields: list[FieldSpec] = []
    for i, item in enumerate(inputs):
        if not isinstance(item, Mapping) or not isinstance(item.get("Name"), str):
            raise MetaError(f"meta/config: Inputs[{i}]: expected an object with a Name")
        name = item["Name"]
        precision = item.get("Precision") or 0
        if not isinstance(precision, int) or not 0 <= precision <= 15:
            raise MetaError(f"meta/config: Inputs[{i}].Precision: {precision!r}")
        fields.append(
            make_field(
                name,
                str(item.get("DataType") or ""),
                model_input=not (item.get("Auxiliary") or name in auxiliary),
                key_fields=key_fields,
                wildcard=bool(item.get("Wildcard")),
                precision=precision,
            )
        )
    known = {f.name for f in fields}
    for name in key_fields:
        if name not in known:  # a key-only field: auxiliary and wildcard, as the server has it
            fields.append(make_field(name, "", model_input=False, key_fields=key_fields))
            known.add(name)
    if not key_fields:
        key_fields = [f.name for f in fields if f.model_input]
    outputs = tuple(
        o["Name"]
        for o in folded.get("outputs") or []
        if isinstance(o, Mapping) and isinstance(o.get("Name"), str)
    )
    datastore = _datastore_config(model_id, document)
    return ModelMeta(tuple(fields), tuple(key_fields), outputs, datastore)


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MetaError(f"meta/config: {what}: expected a list of names")
    return list(value)


def _datastore_config(model_id: str, remote: Mapping[str, Any]) -> Config | None:
    """The datastore part of ``config.Remote`` through the YAML configuration's parser."""
    datastore = _pruned({k: v for k, v in remote.items() if str(k).lower() in _DATASTORE_KEYS})
    datastore_id = next((v for k, v in datastore.items() if str(k).lower() == "id"), None)
    if not datastore_id:
        return None  # mly: no datastore, no caching
    connections = next((v for k, v in remote.items() if str(k).lower() == "connections"), None)
    document = {
        "Connections": [
            _pruned({k: v for k, v in c.items() if str(k).lower() in _CONNECTION_KEYS})
            for c in connections or []
            if isinstance(c, Mapping)
        ],
        "Datastores": [datastore],
        "Models": [{"ID": model_id, "URL": "remote", "DataStore": datastore_id}],
    }
    try:
        return parse_config(json.dumps(document), source="meta/config")
    except ConfigError as exc:
        raise MetaError(str(exc)) from None


def _pruned(section: Mapping[str, Any]) -> dict[str, Any]:
    """Without mly's zero values (``""``, ``0``, ``null``, ``false``: "not set, use the
    default"), which the configuration parser would read as given."""
    out: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, Mapping):
            value = _pruned(value)
        if value in (None, "", 0, False, {}) and not isinstance(value, list):
            continue
        out[key] = value
    return out
