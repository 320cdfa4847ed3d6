"""Hostile configuration documents (issue #14, items 4 and 14): alias bombs, deep nesting,
huge values and out-of-range TTLs are configuration errors, fast and short."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from bridge.config import ConfigError, load_config, parse_config
from bridge.config.model import MAX_TTL_MS
from bridge.config.reader import MAX_DEPTH, MAX_NODES
from support.bounded import bounded
from support.redis_server import RedisServer

MESSAGE_LIMIT = 400
"""Every error here must stay readable: no quoted value may blow it up."""


def laughs(levels: int = 9) -> str:
    """The anchors of a billion laughs (10**levels values once expanded)."""
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


MODEL = "Models:\n  - ID: m\n    URL: /tmp/m\n"
STORE = "Datastores:\n  - ID: s\n"


LAUGHS = {
    "UseDict": MODEL + "    UseDict: *a8\n",
    "Cache.SizeMB": MODEL + "    DataStore: s\n" + STORE + "    Cache: {SizeMB: *a8}\n",
    "KeyFields item": MODEL + "    KeyFields: [a, *a8]\n",
    "Precision": MODEL + "    Inputs:\n      - {Name: a, Precision: *a8}\n",
}

PARSE_EACH = """
import json, sys
from bridge.config import ConfigError, load_config, parse_config
out = {}
for name, text in json.load(sys.stdin).items():
    try:
        parse_config(text)
        out[name] = "parsed"
    except ConfigError as exc:
        out[name] = str(exc)
print(json.dumps(out))
"""


def test_billion_laughs_is_a_quick_config_error() -> None:
    documents = {name: laughs() + tail for name, tail in LAUGHS.items()}
    assert all(len(text) < 1000 for text in documents.values())
    # In a child process: a blow-up happens inside repr(), C code that never lets another
    # thread run, so only a process can be stopped from outside.
    done = subprocess.run(
        [sys.executable, "-c", PARSE_EACH],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    messages = json.loads(done.stdout)
    for name in LAUGHS:
        assert f"more than {MAX_NODES} values" in messages[name], name
        assert len(messages[name]) < MESSAGE_LIMIT, name


def test_small_aliases_still_work() -> None:
    text = (
        "Connections:\n  - &conn {ID: c, Kind: redis, Hostnames: 127.0.0.1}\n"
        "Datastores:\n  - {ID: s, Connection: c, Namespace: n, Dataset: d}\n"
        + MODEL
        + "    DataStore: s\n    Tags: &tags [serve]\n"
        + "  - {ID: m2, URL: /tmp/m2, Tags: *tags}\n"
    )
    config = parse_config(text)
    assert [m.tags for m in config.models] == [("serve",), ("serve",)]


@pytest.mark.parametrize(
    "document",
    [
        "[" * 5000 + "]" * 5000,
        "{a: " * 3000 + "1" + "}" * 3000,
        "a:\n" + "".join(" " * i + "a:\n" for i in range(1, 2000)),
        "Models:\n  - ID: m\n    URL: /tmp\n    UseDict: " + "[" * 4000 + "]" * 4000 + "\n",
    ],
    ids=["flow-lists", "flow-maps", "block-maps", "as-a-value"],
)
def test_deep_nesting_is_a_config_error_not_a_recursion_error(document: str) -> None:
    with pytest.raises(ConfigError, match=f"deeper than {MAX_DEPTH} levels"):
        bounded(lambda: parse_config(document), timeout=5)


def test_nesting_within_the_limit_parses() -> None:
    document = MODEL + "Metrics:\n  deep: " + "[" * 40 + "]" * 40 + "\n"
    assert parse_config(document).models[0].id == "m"  # Metrics: accepted, not used


@pytest.mark.parametrize(
    "tail",
    [
        MODEL + "    UseDict: " + "y" * 100_000 + "\n",
        MODEL + "    UseDict: [" + ", ".join(["word"] * 20_000) + "]\n",
        "Models:\n  - ID: " + "m" * 50_000 + " x\n    URL: /tmp\n",
        MODEL + "    " + "K" * 100_000 + ": 1\n",
        MODEL + "    Inputs:\n      - {Name: a, Precision: " + "9" * 4000 + "}\n",
        MODEL + "    UseDict: " + "9" * 6000 + "\n",
    ],
    ids=["long-string", "long-list", "long-id", "long-key", "big-int", "too-big-int"],
)
def test_errors_quote_at_most_a_few_dozen_characters(tail: str) -> None:
    with pytest.raises(ConfigError) as info:
        bounded(lambda: parse_config(tail), timeout=5)
    assert len(str(info.value)) < MESSAGE_LIMIT, str(info.value)[:MESSAGE_LIMIT]


@pytest.mark.parametrize("char", ["\x00", "\x13", "\ufffe"])
def test_a_control_character_is_a_config_error(char: str) -> None:
    """Found by fuzz/config_target.py: PyYAML refuses non-printable characters while its
    loader is built, before the reader caught anything (an untyped ``ReaderError``)."""
    with pytest.raises(ConfigError, match="not valid YAML: unacceptable character"):
        parse_config(MODEL + f"    UseDict: a{char}b\n")


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "mly.yaml"
    path.write_bytes(MODEL.encode() + b"    UseDict: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"mly\.yaml: not UTF-8 text \(byte 47\)"):
        load_config(path)


# -- item 14: TimeToLiveMs beyond what a store accepts ---------------------------------------

REDIS_STORE = (
    "Connections:\n  - {ID: c, Kind: redis, Hostnames: 127.0.0.1}\n"
    "Datastores:\n  - {ID: s, Connection: c, Namespace: n, Dataset: d, TimeToLiveMs: TTL}\n"
    + MODEL
    + "    DataStore: s\n"
)


@pytest.mark.parametrize("ttl", [2**63, MAX_TTL_MS + 1, 10**30])
def test_a_ttl_beyond_the_stores_range_is_refused_naming_its_key(ttl: int) -> None:
    with pytest.raises(ConfigError, match=r"Datastores\[0\]\.TimeToLiveMs: must be at most"):
        parse_config(REDIS_STORE.replace("TTL", str(ttl)))
    l2 = REDIS_STORE.replace(
        "TimeToLiveMs: TTL}",
        f"L2: {{Connection: c, Namespace: n, Dataset: d2, TimeToLiveMs: {ttl}}}}}",
    )
    with pytest.raises(ConfigError, match=r"Datastores\[0\]\.L2\.TimeToLiveMs"):
        parse_config(l2)


def test_the_longest_accepted_ttl_is_one_redis_takes(redis_server: RedisServer) -> None:
    config = parse_config(REDIS_STORE.replace("TTL", str(MAX_TTL_MS)))
    assert config.datastores[0].time_to_live_ms == MAX_TTL_MS
    client = redis.Redis(port=redis_server.port)
    try:
        assert client.set("harden:ttl", b"1", px=MAX_TTL_MS)
        assert client.pttl("harden:ttl") > MAX_TTL_MS - 60_000
        with pytest.raises(redis.ResponseError):  # what every write met before the check
            client.set("harden:ttl", b"1", px=2**63 - 1)
    finally:
        client.close()
