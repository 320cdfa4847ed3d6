"""``load_from_file("mly", …)``: models served through their cache, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

import bridge
from bridge.errors import DuplicateFunctionError, LoadError
from bridge.mly import MlyLoader
from bridge.runtime import Runtime
from support.mly import (
    WINE_ROW,
    cached_model_config,
    colour_model,
    redis_example_config,
    write_config,
)
from support.redis_server import RedisServer


def test_the_mly_fixture_answers_and_then_comes_from_the_cache(
    bridge_runtime: Runtime, mly_loader: MlyLoader, mly_models: Path, tmp_path: Path
) -> None:
    config = cached_model_config(tmp_path, mly_models, "serving_sli")
    handle = bridge.load_from_file("mly", [str(config)])
    assert handle.functions == ("serving_sli.eval", "serving_sli.process_batch")
    assert bridge.call("serving_sli.eval", {"sa": "a", "sl": "a"}) == {"expand": 25}
    assert bridge.call("serving_sli.eval", {"sa": "a", "sl": "a"}) == {"expand": 25}
    assert bridge.call(
        "serving_sli.process_batch", [{"sa": "zz", "sl": "a"}, {"sa": "a", "sl": "a"}]
    ) == [{"expand": 10}, {"expand": 25}]
    service = mly_loader.services["serving_sli"]
    assert service.counters.snapshot()["rows_evaluated"] == 2
    assert service.store is not None and service.store.snapshot()["local_hits"] == 2
    with pytest.raises(bridge.CallError, match="missing input 'sl'"):
        bridge.call("serving_sli.eval", {"sa": "a"})


def test_mly_end_to_end_cases(
    runtime: Runtime, mly_loader: MlyLoader, mly_models: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        f"""
Models:
  - {{ID: fli, URL: {mly_models}/float_input_float_model, DataStore: mem,
     Inputs: [{{Name: fl, Precision: 4}}]}}
  - {{ID: vec, URL: {mly_models}/vectorization_int_model, DataStore: mem,
     Inputs: [{{Name: tv, Wildcard: true}}]}}
  - {{ID: ko, URL: {mly_models}/keyed_out_model, DataStore: mem,
     Inputs: [{{Name: i, Wildcard: true}}]}}
Datastores: [{{ID: mem, Cache: {{SizeMB: 1}}}}]
""",
    )
    runtime.load_from_file("mly", [config])
    first = runtime.call("fli.eval", {"fl": 1.00054, "sl": "a"})
    assert runtime.call("fli.eval", {"fl": 1.00053, "sl": "a"}) == first  # mly case 007: cached
    assert mly_loader.services["fli"].counters.snapshot()["rows_evaluated"] == 1
    assert runtime.call("vec.eval", {"tv": "a b c", "sl": "a"}) == {"expand": 360}
    out = runtime.call("ko.eval", {"i": 3})
    assert list(out) == ["i0_copy", "i1_copy"]  # stable order (mly: map order)


def test_configuration_errors_fail_the_load(
    runtime: Runtime, mly_models: Path, tmp_path: Path
) -> None:
    bad_store = write_config(
        tmp_path,
        f"""
Models:
  - {{ID: a, URL: {mly_models}/string_lookups_int_model}}
  - {{ID: b, URL: {mly_models}/string_lookups_int_model, Datastore: foo}}
""",
        "a.yaml",
    )
    with pytest.raises(LoadError, match=r'Models\[1\]\.Datastore: no datastore "foo"'):
        runtime.load_from_file("mly", [bad_store])
    no_precision = write_config(
        tmp_path,
        f"""
Models: [{{ID: f, URL: {mly_models}/float_input_float_model, DataStore: m}}]
Datastores: [{{ID: m, Cache: {{SizeMB: 1}}}}]
""",
        "b.yaml",
    )
    with pytest.raises(LoadError, match=r"Models\[0\]\.Inputs: float input 'fl' needs a Precision"):
        runtime.load_from_file("mly", [no_precision])
    no_vocab = write_config(
        tmp_path,
        f"""
Models: [{{ID: v, URL: {mly_models}/vectorization_int_model, DataStore: m}}]
Datastores: [{{ID: m, Cache: {{SizeMB: 1}}}}]
""",
        "c.yaml",
    )
    with pytest.raises(LoadError, match=r"no lookup layer in the model for \['tv'\]"):
        runtime.load_from_file("mly", [no_vocab])
    missing_model = write_config(tmp_path, "Models: [{ID: x, URL: nowhere}]", "d.yaml")
    with pytest.raises(LoadError, match=r"Models\[0\]\.URL: .*nowhere"):
        runtime.load_from_file("mly", [missing_model])
    assert runtime.names() == []


def test_a_second_load_of_a_served_id_fails_and_the_first_keeps_its_counters(
    runtime: Runtime, mly_loader: MlyLoader, mly_models: Path, tmp_path: Path
) -> None:
    text = f"""
Models: [{{ID: twice, URL: {mly_models}/string_lookups_int_model, DataStore: mem}}]
Datastores: [{{ID: mem, Cache: {{SizeMB: 1}}}}]
"""
    runtime.load_from_file("mly", [write_config(tmp_path, text, "first.yaml")])
    served = mly_loader.services["twice"]
    runtime.call("twice.eval", {"sa": "a", "sl": "a"})
    with pytest.raises(DuplicateFunctionError, match=r"'twice\.eval'"):
        runtime.load_from_file("mly", [write_config(tmp_path, text, "second.yaml")])
    assert mly_loader.services["twice"] is served and list(mly_loader.datastores) == ["mem"]
    assert mly_loader.snapshot()["models"]["twice"]["rows"] == 1
    runtime.clear()  # releases the loads: the ID can be served again
    assert mly_loader.services == {} and mly_loader.datastores == {}
    runtime.load_from_file("mly", [write_config(tmp_path, text, "third.yaml")])
    assert runtime.call("twice.eval", {"sa": "a", "sl": "a"}) == {"expand": 25}


def test_a_reload_with_another_vocabulary_misses_old_entries(
    runtime: Runtime, mly_loader: MlyLoader, tmp_path: Path
) -> None:
    first = colour_model(tmp_path / "v1", ["red", "white"])
    second = colour_model(tmp_path / "v2", ["red", "rose"])
    config = write_config(
        tmp_path,
        f"""
Models: [{{ID: colour, URL: {first}, DataStore: mem}}]
Datastores: [{{ID: mem, Cache: {{SizeMB: 1}}}}]
""",
    )
    runtime.load_from_file("mly", [config])
    service = mly_loader.services["colour"]
    runtime.call("colour.eval", {"colour": "red"})
    runtime.call("colour.eval", {"colour": "red"})
    old_hash = service.dictionary.hash if service.dictionary else None
    service.reload(second)
    assert service.dictionary is not None and service.dictionary.hash != old_hash
    runtime.call("colour.eval", {"colour": "red"})
    snap = service.snapshot()
    assert snap["model"]["rows_evaluated"] == 2
    assert snap["datastore"]["hash_mismatches"] == 1
    with pytest.raises(LoadError):
        service.reload(tmp_path / "absent")  # a failed reload keeps the model serving
    assert runtime.call("colour.eval", {"colour": "red"}) is not None


def test_wine_quality_serves_points_and_caches_by_dictionary_key(
    wine: Runtime, mly_loader: MlyLoader
) -> None:
    runtime = wine
    points = runtime.call("wine_quality.eval", WINE_ROW)
    assert set(points) == {"points"} and 70 < points["points"] < 100
    same_cents = dict(WINE_ROW, price=15.004)
    assert runtime.call("wine_quality.eval", same_cents) == points
    unknown_winery = dict(WINE_ROW, winery="No Such Winery")
    other = dict(WINE_ROW, winery="Another Unknown Winery")
    assert runtime.call("wine_quality.eval", unknown_winery) == runtime.call(
        "wine_quality.eval", other
    )
    snap = mly_loader.snapshot()
    assert snap["models"]["wine_quality"]["rows_evaluated"] == 2
    assert snap["datastores"]["wine_quality_cache"]["local_hits"] == 2
    batch = runtime.call("wine_quality.process_batch", [WINE_ROW, unknown_winery, WINE_ROW])
    assert batch == [points, batch[1], points] and batch[1] != points


def test_redis_server_is_shared_between_loads_and_survives_a_restart(
    runtime: Runtime,
    mly_loader: MlyLoader,
    quality_model: Path,
    tmp_path: Path,
    redis_server: RedisServer,
) -> None:
    config = redis_example_config(
        quality_model,
        tmp_path,
        redis_server.port,
        **{
            r"BackoffMs: \d+": "",
            r"Socket: 100}": "Socket: 100}\n    BackoffMs: 100",
        },
    )
    runtime.load_from_file("mly", [config])
    row = dict(WINE_ROW, price=21.0)
    expected = runtime.call("wine_quality.eval", row)
    mly_loader.flush()
    redis_server.kill()
    try:
        fresh = dict(WINE_ROW, price=33.0)
        assert runtime.call("wine_quality.eval", fresh)["points"] > 0  # Redis down: still answers
        assert runtime.call("wine_quality.eval", row) == expected  # from memory
        snap = mly_loader.snapshot()["datastores"]["wine_quality_cache"]
        assert snap["errors"] >= 1
    finally:
        redis_server.start()
