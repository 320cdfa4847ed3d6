"""The mly client's logic over an in-memory mly server (httpx's MockTransport).

Real servers, ours and viant/mly's, are in test_client_servers.py; this file covers what a real
server cannot be made to do on demand (wrong row counts, a dictionary hash that changes under a
running client, hosts that refuse connections). Over 400 lines because it is the client's
whole contract against one fake server, one short test per rule.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bridge.cache import Entry
from bridge.cache.redis_store import RedisStore
from bridge.client import (
    Client,
    HostsUnavailable,
    InputError,
    MetaError,
    ProtocolError,
    ServerError,
)
from bridge.client.hosts import HostPool, normalise_host
from support.bounded import BOUND_S
from support.client_fakes import ROWS, FakeMly, Recorded
from support.mly import write_config
from support.redis_server import RedisServer


def make_client(fake: FakeMly, hosts: list[str] | None = None, **options: Any) -> Client:
    return Client(
        "sli",
        ["127.0.0.1:8086"] if hosts is None else hosts,
        transport=fake.transport(),
        async_transport=fake.async_transport(),
        **options,
    )


@pytest.fixture
def fake() -> FakeMly:
    return FakeMly()


@pytest.fixture
def client(fake: FakeMly) -> Iterator[Client]:
    with make_client(fake) as c:
        yield c


def test_start_up_reads_config_and_gzipped_dictionary(fake: FakeMly, client: Client) -> None:
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests] == ["config", "dictionary"]
    assert client.dict_hash == fake.dictionary.hash
    assert client.meta.key_fields == ("sa", "sl")
    assert client.store is not None and client.store.l1 is None


def test_keys_are_the_servers_keys(client: Client) -> None:
    keys = client.key_builder
    assert [keys.key(keys.check(r)) for r in ROWS] == ["a/a", "b/c", "[UNK]/a"]


def test_first_run_sends_every_row_with_keys_and_batch_size_first(
    fake: FakeMly, client: Client
) -> None:
    result = client.run(ROWS)
    assert result.status == "ok"
    assert result.data == [{"expand": fake.value(r["sa"], r["sl"])} for r in ROWS]
    assert result.cached == [False, False, False]
    assert result.dict_hash == fake.dictionary.hash
    (sent,) = fake.evals()
    assert list(sent.body) == ["batch_size", "sa", "sl", "cache_key"]
    assert sent.body["cache_key"] == ["a/a", "b/c", "[UNK]/a"]


def test_repeats_never_reach_the_server(fake: FakeMly, client: Client) -> None:
    first = client.run(ROWS)
    again = client.run(ROWS)
    assert again.status == "cached" and again.cached == [True, True, True]
    assert again.data == first.data
    assert client.eval({"sa": "yy", "sl": "a"}) == first.data[2]  # same key as zz/a
    assert len(fake.evals()) == 1
    assert client.counters.requests == 1


def test_partial_hit_sends_only_misses_and_stores_them_under_their_own_keys(
    fake: FakeMly, client: Client
) -> None:
    """mly's client bug: a cached row before a missed one shifts the stored values."""
    client.run([{"sa": "a", "sl": "a"}])
    mixed = [{"sa": "a", "sl": "a"}, {"sa": "b", "sl": "b"}, {"sa": "xx", "sl": "qq"}]
    result = client.run(mixed)
    assert result.cached == [True, False, False]
    assert result.data == [{"expand": fake.value(r["sa"], r["sl"])} for r in mixed]
    sent = fake.evals()[-1].body
    assert sent == {
        "batch_size": 2,
        "sa": ["b", "xx"],
        "sl": ["b", "qq"],
        "cache_key": ["b/b", "[UNK]/[UNK]"],
    }
    later = client.run([{"sa": "b", "sl": "b"}, {"sa": "q", "sl": "w"}])
    assert later.status == "cached"
    assert later.data == [{"expand": fake.value("b", "b")}, {"expand": fake.value("q", "w")}]
    assert fake.value("b", "b") != fake.value("a", "a")  # the bug would answer a/a's value


def test_duplicate_rows_in_a_batch_are_sent_once(fake: FakeMly, client: Client) -> None:
    rows = [{"sa": "a", "sl": "b"}, {"sa": "zz", "sl": "b"}, {"sa": "a", "sl": "b"}]
    result = client.run(rows)
    assert fake.evals()[-1].body["cache_key"] == ["a/b", "[UNK]/b"]
    assert result.data[0] == result.data[2] and len(result.data) == 3


def test_repeated_misses_around_a_hit_take_their_values_from_their_own_rows(
    fake: FakeMly, client: Client
) -> None:
    """The request's arrays are built column by column from each missed key's first row."""
    client.run([{"sa": "a", "sl": "a"}])
    rows = [{"sa": "b", "sl": "c"}, {"sa": "a", "sl": "a"}, {"sa": "b", "sl": "c"}]
    rows.append({"sa": "c", "sl": "a"})
    result = client.run(rows)
    assert result.cached == [False, True, False, False]
    assert result.data == [{"expand": fake.value(r["sa"], r["sl"])} for r in rows]
    assert fake.evals()[-1].body == {
        "batch_size": 2,
        "sa": ["b", "c"],
        "sl": ["c", "a"],
        "cache_key": ["b/c", "c/a"],
    }


def test_without_a_datastore_duplicate_rows_are_still_sent_once(fake: FakeMly) -> None:
    fake.datastore = {"ID": "", "Cache": None}
    rows = [{"sa": "a", "sl": "b"}, {"sa": "zz", "sl": "b"}, {"sa": "a", "sl": "b"}]
    with make_client(fake) as client:
        result = client.run(rows)
    assert fake.evals()[-1].body["cache_key"] == ["a/b", "[UNK]/b"]
    assert result.data[0] == result.data[2] and result.cached == [False] * 3


def test_eval_sends_a_flat_row_with_its_key(fake: FakeMly, client: Client) -> None:
    assert client.eval({"sa": "c", "sl": "a"}) == {"expand": fake.value("c", "a")}
    assert fake.evals()[-1].body == {"sa": "c", "sl": "a", "cache_key": "c/a"}
    assert client.eval({"sa": "c", "sl": "a"}) == {"expand": fake.value("c", "a")}
    assert len(fake.evals()) == 1


def test_returned_rows_are_copies(client: Client) -> None:
    client.eval({"sa": "a", "sl": "a"})["expand"] = -1
    assert client.eval({"sa": "a", "sl": "a"})["expand"] != -1


def test_a_bad_row_fails_before_any_request_and_names_the_field(
    fake: FakeMly, client: Client
) -> None:
    with pytest.raises(InputError, match="row 1: missing input 'sl'"):
        client.run([{"sa": "a", "sl": "a"}, {"sa": "b"}])
    with pytest.raises(InputError, match="unknown field 'nope'"):
        client.eval({"sa": "a", "sl": "a", "nope": 1})
    with pytest.raises(InputError, match="expected a string"):
        client.eval({"sa": 1, "sl": "a"})
    assert fake.evals() == []
    assert client.eval({"sa": "a", "sl": "a"}) == {"expand": fake.value("a", "a")}


def test_4xx_is_a_typed_error_and_is_not_retried(fake: FakeMly) -> None:
    fake.fail_with = (400, "failed to build request due to missing fields: [sl]")
    with make_client(fake, ["127.0.0.1:1", "127.0.0.1:2"]) as client:
        with pytest.raises(ServerError) as caught:
            client.run(ROWS)
        assert caught.value.status == 400
        assert "missing fields: [sl]" in caught.value.message
        assert len(fake.evals()) == 1  # not retried on the other host
        fake.fail_with = None
        assert client.run(ROWS).status == "ok"  # the next call works


def test_5xx_json_error_carries_the_servers_message(fake: FakeMly, client: Client) -> None:
    fake.fail_with = (503, '{"status":"error","error":"model sli is not ready"}')
    with pytest.raises(ServerError) as caught:
        client.eval({"sa": "a", "sl": "a"})
    assert (caught.value.status, caught.value.message) == (503, "model sli is not ready")
    assert "sli/eval" in str(caught.value)


def test_never_a_silent_partial_result(fake: FakeMly, client: Client) -> None:
    fake.drop_rows = 1
    with pytest.raises(ProtocolError, match="asked for 3 rows, the answer has 2 rows"):
        client.run(ROWS)
    fake.drop_rows = 0
    assert client.run(ROWS).cached == [False, False, False]  # nothing of the bad answer stored


def test_round_robin_over_hosts(fake: FakeMly) -> None:
    with make_client(fake, ["127.0.0.1:1", "127.0.0.1:2"]) as client:
        for i in range(4):
            client.eval({"sa": "a", "sl": f"x{i}"})  # all [UNK]: only the first is a miss
            client.run([{"sa": "b", "sl": "a"}, {"sa": str(i), "sl": "b"}])
    hosts = [r.host for r in fake.evals()]
    assert set(hosts) == {"127.0.0.1:1", "127.0.0.1:2"}
    assert all(a != b for a, b in itertools.pairwise(hosts))


def test_a_refused_host_fails_over_and_is_skipped_for_its_back_off(fake: FakeMly) -> None:
    fake.down_hosts = {"127.0.0.1:1"}
    hosts = ["127.0.0.1:1", "127.0.0.1:2"]
    with make_client(fake, hosts, backoff_s=60, max_backoff_s=60) as client:
        for i in range(5):
            assert client.eval({"sa": "a", "sl": str(i)}) == {"expand": fake.value("a", "?")}
            client.run([{"sa": "b", "sl": "c"}, {"sa": "c", "sl": str(i)}])
        dead = client.hosts.hosts[0]
        assert not dead.up and dead.failures == 1  # tried once, then skipped
    assert {r.host for r in fake.evals()} == {"127.0.0.1:2"}


def test_a_host_is_probed_again_after_its_back_off(fake: FakeMly) -> None:
    now = [0.0]
    pool = HostPool(["h:1", "h:2"], backoff_s=1.0, clock=lambda: now[0])
    first = pool.pick()
    pool.failed(first)
    assert [pool.pick().url for _ in range(3)] == ["http://h:2"] * 3
    now[0] = 1.5
    probe = pool.pick()
    assert probe is first
    assert pool.pick().url == "http://h:2"  # one probe at a time
    pool.failed(probe)
    assert probe.backoff_s == 2.0  # doubled
    now[0] = 4.0
    assert pool.pick() is probe
    pool.succeeded(probe)
    assert probe.up


def test_every_host_down_raises_after_max_retry_attempts(fake: FakeMly) -> None:
    with make_client(fake, ["127.0.0.1:1"]) as client:
        fake.down_hosts = {"127.0.0.1:1"}
        with pytest.raises(HostsUnavailable, match="after 3 attempt") as caught:
            make_client(fake, ["127.0.0.1:1"], max_retry=2)
        assert len(caught.value.attempts) == 3
        with pytest.raises(HostsUnavailable):
            client.eval({"sa": "a", "sl": "a"})
        fake.down_hosts = set()
        assert client.eval({"sa": "a", "sl": "a"}) == {"expand": fake.value("a", "a")}


def test_a_changed_dict_hash_reloads_the_dictionary_once_and_old_entries_miss(
    fake: FakeMly, client: Client
) -> None:
    client.run(ROWS)  # stored under the first dictionary
    old_hash = client.dict_hash
    fake.words = ("a", "b", "c", "zz")  # the server reloaded a model with a new vocabulary
    result = client.run([{"sa": "zz", "sl": "b"}])
    assert result.dict_hash == fake.dictionary.hash != old_hash
    assert client.dict_hash == fake.dictionary.hash
    assert client.counters.dictionary_reloads == 1
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests].count("dictionary") == 2
    # Keys now come from the new vocabulary, and entries of the old hash are misses.
    keys = client.key_builder
    assert keys.key(keys.check({"sa": "zz", "sl": "a"})) == "zz/a"
    again = client.run(ROWS)
    assert again.cached == [False, False, False]
    assert again.data[2] == {"expand": fake.value("zz", "a")}
    assert client.run(ROWS).status == "cached"


def test_rows_answered_under_another_hash_are_not_stored(fake: FakeMly, client: Client) -> None:
    fake.hash_override = 12345  # the server says another dictionary, the reload gives ours
    client.eval({"sa": "a", "sl": "a"})
    client.eval({"sa": "a", "sl": "a"})
    assert len(fake.evals()) == 2
    assert client.counters.unstored_rows == 2
    reloads = [r for r in fake.requests if r.path.endswith("/dictionary")]
    assert len(reloads) == 3  # start-up, then one per mismatching answer


def test_one_dictionary_reload_in_flight(fake: FakeMly, client: Client) -> None:
    """A second mismatch while a reload runs does not start another one."""
    fake.words = ("a", "b")  # the server reloaded: every answer now names another hash
    in_flight, release = threading.Event(), threading.Event()

    def hold(_: Recorded) -> None:
        in_flight.set()
        release.wait(BOUND_S)

    fake.on_dictionary = hold
    first = threading.Thread(target=client.eval, args=({"sa": "a", "sl": "a"},))
    first.start()
    try:
        assert in_flight.wait(BOUND_S)  # the first caller's reload is waiting for the server
        client.eval({"sa": "c", "sl": "c"})  # a second mismatch meanwhile
    finally:
        release.set()
        first.join(BOUND_S)
    assert not first.is_alive()
    dictionaries = [r for r in fake.requests if r.path.endswith("/dictionary")]
    assert len(dictionaries) == 2  # start-up, then the one reload
    assert client.counters.dictionary_reloads == 1


def test_async_twins(fake: FakeMly, client: Client) -> None:
    async def main() -> tuple[Any, Any, Any]:
        first = await client.arun(ROWS)
        again = await client.arun(ROWS)
        one = await client.aeval({"sa": "c", "sl": "c"})
        await client.aclose()
        return first, again, one

    first, again, one = asyncio.run(main())
    assert first.status == "ok" and again.status == "cached" and again.data == first.data
    assert one == {"expand": fake.value("c", "c")}
    assert len(fake.evals()) == 2


def test_async_errors_are_the_same_types(fake: FakeMly, client: Client) -> None:
    fake.fail_with = (429, "overloaded")

    async def main() -> None:
        await client.aeval({"sa": "a", "sl": "a"})

    with pytest.raises(ServerError) as caught:
        asyncio.run(main())
    assert caught.value.status == 429


def test_a_model_without_datastore_is_not_cached(fake: FakeMly) -> None:
    fake.datastore = {"ID": "", "Cache": None}
    with make_client(fake) as client:
        assert client.store is None
        client.run(ROWS)
        assert client.run(ROWS).status == "ok"
    assert len(fake.evals()) == 2


def test_cache_scope_keeps_only_the_tiers_asked_for(fake: FakeMly) -> None:
    fake.connections = [{"ID": "r", "Hostnames": "127.0.0.1", "Port": 1, "Kind": "redis"}]
    fake.datastore = {
        "ID": "sli",
        "Cache": {"SizeMb": 8},
        "Connection": "r",
        "Namespace": "ns",
        "Dataset": "l1",
        "L2": {"Connection": "r", "Namespace": "ns", "Dataset": "l2"},
    }
    expected = {"local": (False, False), "local+l1": (True, False), "local+l1+l2": (True, True)}
    for scope, (has_l1, has_l2) in expected.items():
        with make_client(fake, cache_scope=scope, cache_size_mb=2) as client:
            store = client.store
            assert store is not None and store.local is not None
            assert (store.l1 is not None, store.l2 is not None) == (has_l1, has_l2)
            assert store.local.store.capacity_bytes == 2 * 1024 * 1024  # type: ignore[union-attr]
            # Redis on port 1 is unreachable: a miss, not an error.
            assert client.run(ROWS).status == "ok"


def test_bad_arguments_and_bad_meta_are_clear(fake: FakeMly) -> None:
    with pytest.raises(ValueError, match="cache_scope"):
        make_client(fake, cache_scope="l1")
    with pytest.raises(ValueError, match="at least one host"):
        make_client(fake, hosts=[])
    fake.datastore = {"ID": "sli", "Connection": "nowhere", "Namespace": "n", "Dataset": "d"}
    with pytest.raises(MetaError, match=r'Datastores\[0\]\.Connection: no connection "nowhere"'):
        make_client(fake)


def test_host_forms() -> None:
    assert normalise_host("h:8086") == "http://h:8086"
    assert normalise_host(("h", 443)) == "https://h:443"
    assert normalise_host("http://h:1/") == "http://h:1"


def test_l1_and_l2_hits_from_a_real_redis_never_reach_the_server(
    fake: FakeMly, redis_server: RedisServer
) -> None:
    """Rows another client or server stored in the shared tiers are answered from them."""
    fake.connections = [
        {"ID": "r", "Hostnames": "127.0.0.1", "Port": redis_server.port, "Kind": "redis"}
    ]
    fake.datastore = {
        "ID": "sli",
        "Connection": "r",
        "Namespace": "ns",
        "Dataset": "l1",
        "L2": {"Connection": "r", "Namespace": "ns", "Dataset": "l2"},
    }
    dict_hash = fake.dictionary.hash
    l1 = RedisStore.connect("l1", redis_server.connection(), "ns", "l1")
    l2 = RedisStore.connect("l2", redis_server.connection(), "ns", "l2")
    l1.put_many([("a/a", Entry(dict_hash, {"expand": 101}))], 60_000)
    l2.put_many([("b/c", Entry(dict_hash, {"expand": 102}))], 60_000)
    l2.put_many([("[UNK]/a", Entry(dict_hash + 1, {"expand": 103}))], 60_000)  # old dictionary
    with make_client(fake, cache_scope="local+l1") as client:
        result = client.run(ROWS)
        assert result.data[0] == {"expand": 101} and result.cached == [True, False, False]
        assert fake.evals()[-1].body["cache_key"] == ["b/c", "[UNK]/a"]
    with make_client(fake, cache_scope="local+l1+l2") as client:
        result = client.run(ROWS)
        assert result.cached == [True, True, False]  # the stale L2 entry is a miss
        assert result.data[:2] == [{"expand": 101}, {"expand": 102}]
        assert result.data[2] == {"expand": fake.value("zz", "a")}
        assert client.run(ROWS[:2]).status == "cached"  # copied to local memory
        assert asyncio.run(client.arun(ROWS)).status == "cached"  # tiers read off the loop
        assert client.store is not None
        client.store.flush()
    assert l1.get_many(["b/c"])[0] == Entry(dict_hash, {"expand": 102})  # L2 hit copied to L1
    assert l1.get_many(["[UNK]/a"])[0] is None  # the client never writes fetched rows there
    l1.close()
    l2.close()


def test_the_datastore_can_come_from_the_servers_yaml(
    fake: FakeMly, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Our server's /meta/config gives no connections: the client reads them from the YAML."""
    config = write_config(
        tmp_path,
        f"""
Models: [{{ID: sli, URL: /nowhere, DataStore: shared}}]
Datastores:
  - {{ID: shared, Cache: {{SizeMB: 1}}, Connection: r, Namespace: ns, Dataset: sli}}
Connections: [{{ID: r, Kind: redis, Hostnames: 127.0.0.1, Port: {redis_server.port}}}]
""",
    )
    l1 = RedisStore.connect("l1", redis_server.connection(), "ns", "sli")
    l1.put_many([("b/c", Entry(fake.dictionary.hash, {"expand": 7}))], 60_000)
    with make_client(fake, cache_scope="local+l1", config=config) as client:
        assert client.run(ROWS[1:2]).data == [{"expand": 7}]
        assert fake.evals() == []
    with pytest.raises(MetaError, match="no model 'sli'"):
        make_client(fake, config=write_config(tmp_path, "Models: [{ID: x, URL: /x}]", "x.yaml"))
    l1.close()


def test_a_host_that_times_out_is_a_transport_error_and_the_next_host_answers(
    fake: FakeMly,
) -> None:
    with make_client(fake, ["127.0.0.1:1", "127.0.0.1:2"]) as client:
        fake.silent_hosts = {"127.0.0.1:1", "127.0.0.1:2"}
        with pytest.raises(HostsUnavailable, match="ReadTimeout"):
            client.eval({"sa": "a", "sl": "a"})
        fake.silent_hosts = {"127.0.0.1:1"}
        assert client.run(ROWS).data == [{"expand": fake.value(r["sa"], r["sl"])} for r in ROWS]
        assert [r.host for r in fake.evals()] == ["127.0.0.1:2"]


def test_concurrent_callers_get_their_own_rows(fake: FakeMly, client: Client) -> None:
    words = ["a", "b", "c", "x"]

    def work(i: int) -> bool:
        batch = [{"sa": words[(i + j) % 4], "sl": words[j % 4]} for j in range(6)]
        result = client.run(batch)
        return result.data == [{"expand": fake.value(r["sa"], r["sl"])} for r in batch]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(200)))
    assert client.run([{"sa": w, "sl": v} for w in words for v in words]).status == "cached"


def test_an_empty_batch_is_answered_without_a_request(fake: FakeMly, client: Client) -> None:
    result = client.run([])
    assert (result.status, result.data, result.cached) == ("cached", [], [])
    assert fake.evals() == []
