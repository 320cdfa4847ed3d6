"""mly's YAML configuration (``Models``, ``Datastores``, ``Connections``, ``Endpoint``), typed.

    config = load_config("examples/wine_quality.yaml")
    config.models[0].datastore

An error names the key path and the problem: ``Models[1].DataStore: no datastore "foo"``.
"""

from bridge.config.model import (
    CacheSettings,
    Config,
    Connection,
    Datastore,
    Field,
    Model,
    Reference,
    Timeout,
)
from bridge.config.parse import ConfigError, load_config, parse_config

__all__ = [
    "CacheSettings",
    "Config",
    "ConfigError",
    "Connection",
    "Datastore",
    "Field",
    "Model",
    "Reference",
    "Timeout",
    "load_config",
    "parse_config",
]
