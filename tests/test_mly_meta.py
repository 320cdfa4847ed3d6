"""The HTTP server's side of the runtime (``bridge.mly.meta``) and its configuration sections.

The Go server (``go_host/server``) parses no YAML: it loads a configuration with the
``"mly-server"`` loader and calls what it registers. These tests call the same functions
from Python; the HTTP behaviour itself is tested by ``go test ./server``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.config import Batch, ConfigError, Endpoint, parse_config
from bridge.mly import MlyLoader
from bridge.mly.meta import DESCRIBE, META, ServerLoader
from bridge.runtime import Runtime
from support.mly import write_config


def test_endpoint_and_batch_sections_are_typed_with_mlys_defaults() -> None:
    config = parse_config("""
Endpoint: {Port: 0, Host: 127.0.0.1, BufferSize: 1024, poolMaxSize: 3}
GlobalBatching: {MaxBatchSize: 8}
Models:
  - {ID: a, URL: /a}
  - {ID: b, URL: /b, Batch: {MaxBatchSize: 4, BatchWaitMicros: 50, MaxEvaluatorConcurrency: 2,
     MaxQueuedBatches: 3, TimeoutAdjustments: {Increment: 5}}}
  - {ID: c, URL: /c, Batch: {BatchWait: -1}}
""")
    assert config.endpoint == Endpoint(port=0, host="127.0.0.1", buffer_size=1024)
    assert config.endpoint.read_timeout_ms == 5000 and config.endpoint.max_header_bytes == 8192
    a, b, c = config.models
    assert config.batching(a) == Batch(max_batch_size=8)  # GlobalBatching, wait 500 µs (mly)
    assert config.batching(b) == Batch(4, 50, 2, 3)
    assert config.batching(c) == Batch(batch_wait_micros=0)  # negative: no wait
    plain = parse_config("Models: [{ID: a, URL: /a}]")
    assert plain.endpoint == Endpoint() and plain.endpoint.port == 8080
    assert plain.batching(plain.models[0]) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Endpoint: {Port: 70000}", "Endpoint.Port: must be between 0 and 65535"),
        ("Endpoint: {BufferSize: -1}", "Endpoint.BufferSize: must be >= 0"),
        ("Endpoint: {ReadTimeoutMS: x}", "Endpoint.ReadTimeoutMS: expected an integer"),
        ("Endpoint: {Prot: 1}", "Endpoint.Prot: unknown key"),
        ("GlobalBatching: {MaxBatchSize: -2}", "GlobalBatching.MaxBatchSize: must be >= 0"),
        ("GlobalBatching: {MaxBatchSise: 2}", "GlobalBatching.MaxBatchSise: unknown key"),
    ],
)
def test_endpoint_and_batch_errors_name_the_key_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"{text}\nModels: [{{ID: a, URL: /a}}]", source="cfg.yaml")
    assert str(caught.value).startswith("cfg.yaml: ")
    assert message in str(caught.value)


def test_a_model_batch_error_names_the_model() -> None:
    with pytest.raises(ConfigError, match=r"Models\[0\]\.Batch\.MaxQueuedBatches: must be >= 0"):
        parse_config("Models: [{ID: a, URL: /a, Batch: {MaxQueuedBatches: -1}}]")


@pytest.fixture
def served(runtime: Runtime, mly_loader: MlyLoader, mly_models: Path, tmp_path: Path) -> Runtime:
    runtime.register_loader("mly-server", ServerLoader(mly_loader))
    path = write_config(
        tmp_path,
        f"""
Endpoint: {{Port: 0, BufferSize: 2048}}
Models:
  - {{ID: sli, URL: {mly_models}/string_lookups_int_model, DataStore: mem,
     Batch: {{MaxBatchSize: 16}}}}
  - {{ID: ko, URL: {mly_models}/keyed_out_model, UseDict: false}}
Datastores: [{{ID: mem, Cache: {{SizeMb: 8}}, TimeToLiveMs: 30000}}]
""",
    )
    runtime.load_from_file("mly-server", [path])
    return runtime


SLI_HASH = 2258113197202221534  # mly's own server serves this dictHash for the fixture


def test_describe_gives_the_server_what_it_needs(served: Runtime) -> None:
    described = json.loads(served.call(DESCRIBE))
    assert described["endpoint"] == {
        "port": 0,
        "host": "",
        "bufferSize": 2048,
        "readTimeoutMs": 5000,
        "writeTimeoutMs": 5000,
        "maxHeaderBytes": 8192,
    }
    sli, ko = described["models"]
    assert sli["id"] == "sli" and sli["dictHash"] == SLI_HASH
    assert [f["name"] for f in sli["fields"]] == ["sa", "sl"]
    assert {f["kind"] for f in sli["fields"]} == {"string"}
    assert sli["batch"]["maxBatchSize"] == 16 and sli["batch"]["batchWaitMicros"] == 500
    assert ko["dictHash"] == 0 and ko["batch"] is None and ko["outputs"] == ["i0_copy", "i1_copy"]
    # The server's memo keeps sli's answers at most the datastore's TTL, and none of ko's.
    assert sli["memoTtlMs"] == 30000 and ko["memoTtlMs"] == 0


def test_the_memo_ttl_is_the_shortest_tier_ttl(
    runtime: Runtime, mly_loader: MlyLoader, mly_models: Path, tmp_path: Path
) -> None:
    """An L2 with a TTL of its own shorter than the datastore's bounds the memo too (no
    server is contacted: Redis connects on first use)."""
    runtime.register_loader("mly-server", ServerLoader(mly_loader))
    path = write_config(
        tmp_path,
        f"""
Models: [{{ID: sli, URL: {mly_models}/string_lookups_int_model, DataStore: d}}]
Datastores:
  - ID: d
    Cache: {{SizeMb: 1}}
    TimeToLiveMs: 60000
    Connection: r
    Namespace: ns
    Dataset: l1
    L2: {{Connection: r, Namespace: ns, Dataset: l2, TimeToLiveMs: 5000}}
Connections: [{{ID: r, Kind: redis, Hostnames: 127.0.0.1, Port: 1}}]
""",
    )
    runtime.load_from_file("mly-server", [path])
    (sli,) = json.loads(runtime.call(DESCRIBE))["models"]
    assert sli["memoTtlMs"] == 5000


def test_meta_is_in_mlys_shapes(served: Runtime) -> None:
    config = json.loads(served.call(META, "sli", "config"))
    assert config["ID"] == "mem" and config["Connections"] is None
    assert config["Cache"]["SizeMb"] == 8 and config["TimeToLiveMs"] == 30000
    assert config["Inputs"] == [
        {"Name": "sa", "Index": 0, "DataType": "string"},
        {"Name": "sl", "Index": 0, "DataType": "string"},
    ]
    assert config["KeyFields"] == ["sa", "sl"]
    assert config["Outputs"] == [{"Name": "expand", "Index": 0, "DataType": "int64"}]
    dictionary = json.loads(served.call(META, "sli", "dictionary"))
    assert dictionary["Hash"] == SLI_HASH
    assert dictionary["Layers"][0]["Strings"] == ["", "[UNK]", "a", "b", "c"]
    assert json.loads(served.call(META, "ko", "dictionary")) is None
    assert json.loads(served.call(META, "ko", "config"))["Cache"] is None
    with pytest.raises(Exception, match="no meta 'nope'"):
        served.call(META, "sli", "nope")


def test_serve_answers_each_request_and_reads_through_the_cache(served: Runtime) -> None:
    answers = served.call(
        "sli.serve",
        [
            [[{"sa": "a", "sl": "a"}], None],
            [[{"sa": "zz", "sl": "a"}, {"sa": "b", "sl": "c"}], ["[UNK]/a", "not/ours"]],
            [[{"sa": 1, "sl": "a"}], None],
            [[{"sa": "b", "sl": "c"}], ["b/c"]],
        ],
    )
    assert answers[0] == [SLI_HASH, [{"expand": 25}]]
    # With the client's keys: how many differ (the server memoises only an answer with 0).
    assert answers[1] == [SLI_HASH, [{"expand": 10}, {"expand": 12}], 1]
    assert answers[2] == "field 'sa': expected a string, got int 1"
    assert answers[3] == [SLI_HASH, [{"expand": 12}], 0]
    stats = json.loads(served.call(META, "sli", "stats"))
    assert stats["server"] == {"requests": 4, "refused": 1, "cache_key_disagreements": 1}
    assert stats["model"]["evaluations"] == 1 and stats["model"]["rows_evaluated"] == 3
    # Every row again: all from the cache, no evaluation.
    again = served.call("sli.serve", [[[{"sa": "b", "sl": "c"}, {"sa": "a", "sl": "a"}], None]])
    assert again == [[SLI_HASH, [{"expand": 12}, {"expand": 25}]]]
    stats = json.loads(served.call(META, "sli", "stats"))
    assert stats["model"]["evaluations"] == 1
    assert stats["datastore"]["tiers"]["local"]["hits"] == 2  # where the repeats were found
    assert json.loads(served.call(META, "ko", "stats"))["datastore"] is None  # no datastore


def test_a_model_failure_fails_only_the_request_that_caused_it(served: Runtime) -> None:
    answers = served.call("ko.serve", [[[{"i": 3}], None], [[{"i": 2**40}], None]])
    assert answers[0] == [0, [{"i0_copy": 3, "i1_copy": 3}]]
    assert "outside int32" in answers[1]["error"]
    with pytest.raises(Exception, match="outside int32"):  # alone, it is the call's error
        served.call("ko.serve", [[[{"i": 2**40}], None]])


def test_one_server_configuration_per_process(served: Runtime, tmp_path: Path) -> None:
    path = write_config(tmp_path, "Models: [{ID: other, URL: /nowhere}]", "second.yaml")
    with pytest.raises(Exception, match="a server configuration is already loaded"):
        served.load_from_file("mly-server", [path])
