"""mly YAML → typed configuration; every error names its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import (
    Backoff,
    ConfigError,
    Endpoint,
    Timeout,
    load_config,
    parse_config,
)

FULL = """
endpoint: {port: 8086}
models:
  - id: sli
    url: models/sli
    useDict: true
    datastore: sliStore
    keyfields: [sa, sl]
    inputs:
      - name: fl
        precision: 4
      - name: tv
        wildcard: true
    Transformer: ignored-but-valid-mly
datastores:
  - ID: sliStore
    cache: {sizeMB: 8}
    connection: l1
    namespace: test
    dataset: sli
    timeToLiveMs: 30000
    L2: {Connection: l2, Namespace: test, Dataset: sli2, TimeToLiveMs: 600000}
connections:
  - {ID: l1, Kind: redis, Hostnames: "127.0.0.1", Port: 6390}
  - id: l2
    hostnames: a.example, b.example
    timeout: {unit: sec, connection: 2, socket: 1, total: 1.5}
"""


def test_a_full_configuration_parses_into_typed_objects(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(FULL)
    config = load_config(path)
    model = config.models[0]
    assert model.id == "sli" and model.url == tmp_path / "models" / "sli"
    assert model.key_fields == ("sa", "sl")
    assert [(f.name, f.precision, f.wildcard) for f in model.inputs] == [
        ("fl", 4, False),
        ("tv", 0, True),
    ]
    store = config.datastore("sliStore")
    assert store.cache is not None and store.cache.size_mb == 8
    assert store.l1 is not None and store.l1.time_to_live_ms == 30_000
    assert store.l2 is not None and store.l2.time_to_live_ms == 600_000  # its own TTL
    l1, l2 = config.connections
    assert (l1.kind, l1.port) == ("redis", 6390)
    assert (l2.kind, l2.port, l2.hostnames) == ("aerospike", 3000, ("a.example", "b.example"))
    assert (l2.timeout.connection_ms, l2.timeout.socket_ms, l2.timeout.total_ms) == (
        2000,
        1000,
        1500,
    )
    assert config.endpoint == Endpoint(port=8086)


def test_defaults_are_mlys() -> None:
    config = parse_config("""
Models: [{ID: m, URL: /m, DataStore: d}]
Datastores: [{ID: d, Cache: {}, Connection: c, Namespace: n, Dataset: s, L2: {Connection: c,
  Namespace: n, Dataset: s2}}]
Connections: [{ID: c, Hostnames: h}]
""")
    store = config.datastores[0]
    assert store.cache is not None and store.cache.size_mb == 1
    assert store.time_to_live_ms == 900_000 and store.retry_time_ms == 5_000
    assert store.l2 is not None and store.l2.time_to_live_ms == 900_000  # inherits when unset
    assert config.models[0].use_dict and config.models[0].tags == ("serve",)
    connection = config.connections[0]
    assert connection.timeout == Timeout(connection_ms=800, socket_ms=400, total_ms=450)
    assert connection.backoff == Backoff(initial_ms=1_000, max_ms=30_000)


def test_a_timeout_in_other_units_defaults_its_missing_values_to_mlys() -> None:
    config = parse_config("""
Models: [{ID: m, URL: /m, DataStore: d}]
Datastores: [{ID: d, Connection: c, Namespace: n, Dataset: s}]
Connections: [{ID: c, Hostnames: h, Timeout: {Unit: sec, Socket: 2}, BackoffMs: 50}]
""")
    connection = config.connections[0]
    assert connection.timeout == Timeout(connection_ms=800, socket_ms=2_000, total_ms=450)
    assert connection.backoff == Backoff(initial_ms=50, max_ms=30_000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Models: [{ID: a, URL: /a}, {ID: b, URL: /b, Datastore: foo}]",
            'Models[1].Datastore: no datastore "foo"',
        ),
        ("Models: []", "Models: at least one model is required"),
        ("Models: [{URL: /a}]", "Models[0].ID: required"),
        ("Models: [{ID: a}]", "Models[0].URL: required"),
        (
            "Models: [{ID: a, URL: /a, Inputs: [{Name: x, Precision: -1}]}]",
            "Models[0].Inputs[0].Precision: must be between 0 and 15",
        ),
        ("Models: [{ID: a, URL: /a, TimeToLifeMs: 5}]", "Models[0].TimeToLifeMs: unknown key"),
        ("Models: [{ID: a, URL: /a, id: b}]", "Models[0].ID: given twice"),
        ("Models: [{ID: a, URL: /a}, {ID: a, URL: /b}]", "Models[1].ID: 'a' is also Models[0]"),
        ("Models: [{ID: a, URL: /a, UseDict: maybe}]", "Models[0].UseDict: expected true or false"),
        (
            "Models: [{ID: a, URL: /a}]\nConnections: [{ID: c, Hostnames: h}]",
            "Connections: given without any Datastores",
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d, Connection: nope}]",
            'Datastores[0].Connection: no connection "nope"',
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d, Connection: c}]\n"
            "Connections: [{ID: c, Hostnames: h}]",
            "Datastores[0].Namespace: required with a Connection",
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d, TimeToLiveMs: -5}]",
            "Datastores[0].TimeToLiveMs: must be >= 0",
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d, Cache: {SizeMB: 0}}]",
            "Datastores[0].Cache.SizeMB: must be > 0, got 0",
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d, Cache: {SizeMB: -2}}]",
            "Datastores[0].Cache.SizeMB: must be > 0, got -2",
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d, L2: {Connection: c}}]",
            "Datastores[0].L2: an L2 needs an L1",
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d}]\n"
            "Connections: [{ID: c, Hostnames: h, Kind: memcached}]",
            "Connections[0].Kind: expected aerospike or redis",
        ),
        (
            "Models: [{ID: a, URL: /a}]\nDatastores: [{ID: d}]\n"
            "Connections: [{ID: c, Hostnames: h, Port: 70000}]",
            "Connections[0].Port: not a port number",
        ),
        ("Models: {ID: a}", "Models: expected a list, got a mapping"),
        ("- just a list", "expected a mapping, got a list"),
        ("Models: [", "not valid YAML"),
        ("", "empty configuration"),
    ],
)
def test_errors_name_the_key_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="cfg.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("cfg.yaml: ")


def test_a_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
