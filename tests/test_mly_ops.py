"""The runtime functions behind the HTTP server's operational endpoints (bridge.mly.ops)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bridge.config import ConfigError, parse_config
from bridge.mly import MlyLoader
from bridge.mly.latency import Histogram
from bridge.mly.ops import FLUSH, HEALTH, SETTINGS, SNAPSHOT, functions
from bridge.runtime import Runtime
from support.mly import write_config
from support.redis_server import RedisServer


def test_one_snapshot_has_functions_datastores_models_reload_breakers_and_health(
    runtime: Runtime, mly_loader: MlyLoader, mly_models: Path, tmp_path: Path
) -> None:
    with RedisServer() as redis:
        config = write_config(
            tmp_path,
            f"""
Models: [{{ID: sli, URL: {mly_models}/string_lookups_int_model, DataStore: shared}}]
Datastores:
  - {{ID: shared, Cache: {{SizeMB: 1}}, Connection: r, Namespace: ns, Dataset: sli}}
Connections:
  - {{ID: r, Kind: redis, Hostnames: 127.0.0.1, Port: {redis.port},
     Timeout: {{Connection: 200, Socket: 200, Total: 200}}}}
""",
        )
        runtime.load_from_file("mly", [config])
        ops = functions(parse_config("Models: [{ID: x, URL: /x}]"), mly_loader, runtime)
        row = {"sa": "a", "sl": "a"}
        runtime.call("sli.eval", row)
        runtime.call("sli.eval", row)
        ops[FLUSH]()  # the background write reached Redis
        assert redis.client().dbsize() == 1
        snap = json.loads(str(ops[SNAPSHOT]()))
        assert snap["functions"]["sli.eval"] == {"calls": 2, "errors": 0}
        shared = snap["loaders"]["mly"]["datastores"]["shared"]
        assert (shared["local_hits"], shared["misses"]) == (1, 1)
        assert shared["tiers"]["l1"]["breaker_open"] == 0
        assert snap["loaders"]["mly"]["models"]["sli"]["rows_evaluated"] == 1
        assert snap["loaders"]["mly"]["reload"]["sli"]["ok"] == 1
        assert snap["health"] == {"sli": 1}
        assert snap["loaders"]["mly"]["call_seconds"]["sli"]["count"] == 1  # one model call
        assert snap["loaders"]["mly"]["call_rows"]["sli"]["cumulative"][0] == 1  # of one row
        assert json.loads(str(ops[HEALTH]())) == {"sli": 1}
        assert snap["loaders"]["mly"]["reload"]["sli"]["dict_hash"] == 2258113197202221534

        redis.kill()  # a new row goes to L1, fails, and opens the breaker
        runtime.call("sli.eval", {"sa": "b", "sl": "b"})
        ops[FLUSH]()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            snap = json.loads(str(ops[SNAPSHOT]()))
            if snap["loaders"]["mly"]["datastores"]["shared"]["tiers"]["l1"]["breaker_open"]:
                break
            time.sleep(0.05)
        assert snap["loaders"]["mly"]["datastores"]["shared"]["tiers"]["l1"]["breaker_open"] == 1


def test_access_settings_are_cidr_ranges_and_files() -> None:
    config = parse_config(
        """
Models: [{ID: x, URL: /x}]
AllowedSubnet: ["10.", "192.168.1.", 127.0.0.1, "172.16.0.0/12", "::1"]
Endpoint: {AuthTokenFile: /run/token}
TLS: {CertFile: /c.pem, KeyFile: /k.pem}
EnableCPUProf: true
"""
    )
    settings = json.loads(str(functions(config, MlyLoader())[SETTINGS]()))
    assert settings == {
        # mly compared string prefixes: "10." also admitted 100.x; these are the ranges meant
        "allowedSubnet": [
            "10.0.0.0/8",
            "192.168.1.0/24",
            "127.0.0.1/32",
            "172.16.0.0/12",
            "::1/128",
        ],
        "authTokenFile": "/run/token",
        "tlsCertFile": "/c.pem",
        "tlsKeyFile": "/k.pem",
        "enableCPUProf": True,
        "enableMemProf": False,
    }
    for bad, where in [
        ("AllowedSubnet: [10.0.0.0/33]", r"AllowedSubnet\[0\]"),
        ("AllowedSubnet: ['10']", r"AllowedSubnet\[0\]"),
        ("AllowedSubnet: [300.]", r"AllowedSubnet\[0\]"),
        ("TLS: {CertFile: /c.pem}", r"TLS\.KeyFile: required"),
    ]:
        with pytest.raises(ConfigError, match=where):
            parse_config(f"Models: [{{ID: x, URL: /x}}]\n{bad}")


def test_latency_histogram_is_cumulative_with_inclusive_bounds() -> None:
    h = Histogram((0.001, 0.01, 0.1))
    for seconds in (0.0005, 0.001, 0.002, 0.01, 0.5, 7.0):
        h.observe(seconds)
    snap = h.snapshot()
    # le: 0.001 holds 0.0005 and 0.001 itself; above 0.1: 0.5 and 7.0 count only in "count"
    assert snap["buckets"] == [0.001, 0.01, 0.1]
    assert snap["cumulative"] == [2, 4, 4]
    assert snap["count"] == 6
    assert snap["sum"] == pytest.approx(7.5135)
    with pytest.raises(ValueError, match="increasing"):
        Histogram((0.1, 0.01))
