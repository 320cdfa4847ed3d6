"""The Python client against real servers over loopback HTTP, on mly's ``string_lookups_int_model``.

The same cases run against each server that is available: ours (``build/bin/mlbridge-server``,
``make go``) and viant/mly's own (``build/peers/mly-server``, ``make mly-peer``), which shows
that the client speaks mly's protocol. A server that is not built is skipped, naming how to
build it. Expected values are what mly's server answers (mly-http.md §2.3, §3.7, §5).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.client import Client, HostsUnavailable, InputError, ServerError
from support.mlbridge_server import KINDS, MlbridgeServer, Server, serving
from support.mly import colour_model, write_config

EXPECTED = {  # (sa, sl) → expand, as mly's server answers
    ("a", "a"): 25,
    ("b", "c"): 12,
    ("zz", "a"): 10,
    ("c", "qq"): 6,
    ("b", "b"): 16,
    ("xx", "qq"): 4,
    ("q", "w"): 4,
}


def rows(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"sa": sa, "sl": sl} for sa, sl in pairs]


def values(*pairs: tuple[str, str]) -> list[dict[str, int]]:
    return [{"expand": EXPECTED[p]} for p in pairs]


@dataclass
class Served:
    """One running server of ``sli``: its hosts and its count of eval requests."""

    name: str
    hosts: list[str]
    eval_requests: Callable[[], int]


def start_all(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module", params=KINDS)
def servers(
    request: pytest.FixtureRequest, mly_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[Server]]]:
    """Two instances of one server kind (the failover test stops one of them)."""
    kind: str = request.param
    work = tmp_path_factory.mktemp(kind)
    group = [serving(kind, mly_models, work / "a"), serving(kind, mly_models, work / "b")]
    for started in start_all(group):
        yield kind, started


@pytest.fixture
def served(servers: tuple[str, list[Server]]) -> Served:
    name, group = servers
    return Served(name, [group[0].host], group[0].eval_requests)


@pytest.fixture
def client(served: Served) -> Iterator[Client]:
    with Client("sli", served.hosts) as c:
        yield c


def test_values_and_out_of_vocabulary_keys(served: Served, client: Client) -> None:
    pairs = [("a", "a"), ("b", "c"), ("zz", "a"), ("c", "qq")]
    result = client.run(rows(*pairs))
    assert result.status == "ok"
    assert result.data == values(*pairs)
    assert result.dict_hash == client.dict_hash == 2258113197202221534  # mly's, §3.5
    keys = client.key_builder
    assert [keys.key(keys.check(r)) for r in rows(*pairs)] == ["a/a", "b/c", "[UNK]/a", "c/[UNK]"]
    # Another out-of-vocabulary value with the same key is answered from the cache.
    before = served.eval_requests()
    assert client.eval({"sa": "yy", "sl": "a"}) == {"expand": EXPECTED[("zz", "a")]}
    assert served.eval_requests() == before


def test_repeats_never_reach_the_server(served: Served, client: Client) -> None:
    pairs = [("a", "a"), ("b", "b"), ("xx", "qq")]
    before = served.eval_requests()
    first = client.run(rows(*pairs))
    assert served.eval_requests() == before + 1
    for _ in range(5):
        again = client.run(rows(*pairs))
        assert again.status == "cached" and again.data == first.data == values(*pairs)
        assert client.eval({"sa": "b", "sl": "b"}) == {"expand": 16}
    assert served.eval_requests() == before + 1


def test_partial_hit_batch_is_stored_under_the_right_keys(served: Served, client: Client) -> None:
    """mly's own client answers the last batch with 25, 16 (reference §3.7)."""
    client.run(rows(("a", "a")))
    before = served.eval_requests()
    mixed = client.run(rows(("a", "a"), ("b", "b"), ("xx", "qq")))
    assert mixed.cached == [True, False, False]
    assert mixed.data == values(("a", "a"), ("b", "b"), ("xx", "qq"))
    later = client.run(rows(("b", "b"), ("q", "w")))
    assert later.status == "cached"
    assert later.data == values(("b", "b"), ("q", "w"))
    assert served.eval_requests() == before + 1


def test_http2_prior_knowledge_and_async(served: Served) -> None:
    with Client("sli", served.hosts, http2=True) as client:
        assert client.run(rows(("b", "c"))).data == values(("b", "c"))

        async def both() -> tuple[object, object]:
            one = await client.aeval({"sa": "c", "sl": "qq"})
            many = await client.arun(rows(("a", "a"), ("c", "qq")))
            await client.aclose()
            return one, many.data

        one, many = asyncio.run(both())
    assert one == {"expand": 6}
    assert many == values(("a", "a"), ("c", "qq"))


def test_errors_are_typed_and_the_next_call_works(served: Served, client: Client) -> None:
    with pytest.raises(ServerError) as caught:
        Client("nope", served.hosts)
    assert caught.value.status == 404
    with pytest.raises(InputError, match="missing input 'sl'"):
        client.eval({"sa": "a"})
    assert client.eval({"sa": "a", "sl": "a"}) == {"expand": 25}


def test_failover_when_one_server_is_stopped(servers: tuple[str, list[Server]]) -> None:
    _, group = servers
    first, second = group
    with Client("sli", [first.host, second.host], backoff_s=30, max_backoff_s=30) as client:
        client.run(rows(("a", "a"), ("b", "c")))  # both hosts up: round robin
        before = second.eval_requests()
        first.stop()
        try:
            for sa in ("a", "b", "c"):
                result = client.run(rows((sa, "b"), ("zz", "c"), ("b", "c")))
                assert result.status == "ok" and len(result.data) == 3
            assert second.eval_requests() == before + 3
            assert client.counters.transport_errors == 1  # then skipped for its back-off
            assert not client.hosts.hosts[0].up
            second.stop()
            with pytest.raises(HostsUnavailable):
                client.eval({"sa": "q", "sl": "q"})
        finally:
            first.start()
            second.start()


def test_dictionary_reload_after_the_server_reloads_its_model(tmp_path: Path) -> None:
    """Ours only (ops' hot reload): a new model version changes the dictHash; the client
    reloads its dictionary once and treats the entries of the old hash as misses."""
    url = colour_model(tmp_path / "colour", ["red", "white"])
    second = colour_model(tmp_path / "v2", ["red", "rose"])
    config = write_config(
        tmp_path,
        f"""
Endpoint: {{Port: 0, Host: 127.0.0.1}}
Models: [{{ID: colour, URL: {url}, DataStore: mem, ReloadIntervalMs: 100}}]
Datastores: [{{ID: mem, Cache: {{SizeMB: 1}}}}]
""",
    )
    with (
        MlbridgeServer(config, model_id="colour") as server,
        Client("colour", [server.host]) as client,
    ):
        old_hash = client.dict_hash
        old_red = client.eval({"colour": "red"})
        assert client.key_builder.key(client.key_builder.check({"colour": "rose"})) == "[UNK]"

        url.rename(tmp_path / "colour.old")  # the new version, renamed in
        second.rename(url)
        direct = f"{server.url}/v1/api/model/colour/eval?colour=red"
        deadline = time.monotonic() + 60
        while (answer := httpx.get(direct).json())["dictHash"] == old_hash:
            assert time.monotonic() < deadline, "the server did not reload the model"
            time.sleep(0.05)
        assert answer["data"] != old_red

        before = server.eval_requests()
        result = client.run([{"colour": "white"}])  # a miss: the answer carries the new hash
        assert result.dict_hash == answer["dictHash"] != old_hash
        assert client.dict_hash == answer["dictHash"]
        assert client.counters.dictionary_reloads == 1
        assert client.key_builder.key(client.key_builder.check({"colour": "rose"})) == "rose"
        # red's entry was stored under the old hash: a miss, answered by the new version.
        again = client.run([{"colour": "red"}])
        assert again.cached == [False] and again.data == [answer["data"]]
        assert server.eval_requests() == before + 2
        assert client.run([{"colour": "red"}]).status == "cached"
        assert server.eval_requests() == before + 2
