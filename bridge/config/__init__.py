"""mly's YAML configuration (``Models``, ``Datastores``, ``Connections``, ``Endpoint``), typed.

    config = load_config("examples/wine_quality.yaml")
    config.models[0].datastore

An error names the key path and the problem: ``Models[1].DataStore: no datastore "foo"``.

Three modules: :mod:`~bridge.config.reader` reads any configuration document (case-insensitive
keys, key paths in errors), :mod:`~bridge.config.schema` is mly's schema written with it, and
:mod:`~bridge.config.model` holds the typed result with every default.
"""

from bridge.config.model import (
    Access,
    Backoff,
    Batch,
    CacheSettings,
    Config,
    Connection,
    Datastore,
    Endpoint,
    Field,
    Model,
    Reference,
    Timeout,
)
from bridge.config.reader import ConfigError
from bridge.config.schema import load_config, parse_config

__all__ = [
    "Access",
    "Backoff",
    "Batch",
    "CacheSettings",
    "Config",
    "ConfigError",
    "Connection",
    "Datastore",
    "Endpoint",
    "Field",
    "Model",
    "Reference",
    "Timeout",
    "load_config",
    "parse_config",
]
