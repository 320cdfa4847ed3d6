"""The Python client against real servers over loopback HTTP, on mly's ``string_lookups_int_model``.

The same cases run against each server that is available: viant/mly's own server
(``build/peers/mly-server``, ``make mly-peer``), which shows that the client speaks mly's
protocol. A server that is not built is skipped, naming how to build it. Expected values are
what mly's server answers (shared/reference/mly-http.md §2.3, §3.7, §5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.client import Client, HostsUnavailable, InputError, ServerError
from support.mly_peer import MlyPeer

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


def start_mly(models: Path, work: Path) -> Iterator[list[MlyPeer]]:
    peers = [MlyPeer(models, work / "a"), MlyPeer(models, work / "b")]
    try:
        for peer in peers:
            peer.start()
        yield peers
    finally:
        for peer in peers:
            peer.stop()


@pytest.fixture(scope="module", params=["mly"])
def servers(
    request: pytest.FixtureRequest, mly_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[MlyPeer]]]:
    """Two instances of one server kind (the failover test stops one of them)."""
    yield from (
        (request.param, peers)
        for peers in start_mly(mly_models, tmp_path_factory.mktemp(request.param))
    )


@pytest.fixture
def served(servers: tuple[str, list[MlyPeer]]) -> Served:
    name, peers = servers
    return Served(name, [peers[0].host], peers[0].eval_requests)


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


def test_failover_when_one_server_is_stopped(servers: tuple[str, list[MlyPeer]]) -> None:
    _, peers = servers
    first, second = peers
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
