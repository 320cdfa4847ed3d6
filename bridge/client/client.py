"""The mly client: keys built here, answers from the caches, only the misses on the wire.

    with Client("sli", ["127.0.0.1:8086"], cache_scope="local+l1") as client:
        result = client.run([{"sa": "a", "sl": "a"}, {"sa": "zz", "sl": "b"}])
        result.data      # [{"expand": 25}, {"expand": 10}], in input order
        result.cached    # [False, False] the first time, [True, True] the next

Start-up downloads ``/meta/config`` and ``/meta/dictionary`` (gzip) from the first host that
answers. Rows' keys come from :class:`bridge.mly.keys.KeyBuilder`, the server's own code (a
batch column by column: ``prepare_many``).
Rows are looked up in local memory, then the server's L1 and L2 (as many as ``cache_scope``
allows), and the rows still missing go to the server in one request (``batch_size``, one array
per field, ``cache_key``). The answers are merged by key, so a batch in which cached rows come
before missed ones is stored correctly (mly's client stores such rows under the wrong keys).
Fetched rows are stored in local memory only: the server writes L1 and L2 itself.

A response whose ``dictHash`` differs from the client's dictionary triggers one reload of the
dictionary (one at a time); its rows are returned but not stored, since their keys were built
with the old vocabulary, and entries stored under the old hash read as misses afterwards.

Over 400 lines because every call has a synchronous and an asynchronous twin (``run`` and
``arun``, ``eval`` and ``aeval``) sharing the private call state (``_Call``, ``_State``): they
stay side by side so that they stay the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx

from bridge.cache import Counters, Entry, TieredStore
from bridge.client.errors import HostsUnavailable, ProtocolError, ServerError
from bridge.client.hosts import Host, HostPool
from bridge.client.meta import (
    CACHE_SCOPES,
    CacheScope,
    ModelMeta,
    datastore_from_config,
    parse_meta_config,
)
from bridge.config import load_config
from bridge.mly.keys import ABSENT, InputError, KeyBuilder
from bridge.models.dictionary import Dictionary, DictionaryError, dictionary_from_json

API_PREFIX = "/v1/api/model"

_HEADERS = {"Accept-Encoding": "gzip, deflate", "User-Agent": "mlbridge-client"}
_JSON_HEADERS = {**_HEADERS, "Content-Type": "application/json"}


@dataclass(frozen=True)
class Result:
    status: Literal["ok", "cached"]
    """``"ok"`` when any row went to the server, ``"cached"`` when none did."""
    data: list[dict[str, Any]]
    """One output dict per input row, in input order."""
    dict_hash: int
    """The server's ``dictHash`` (or, when every row was cached, the client's)."""
    cached: list[bool]
    """Per row: answered from a cache tier without the server."""
    service_time_mcs: int = 0
    """The server's ``serviceTimeMcs`` (0 when every row was cached)."""


@dataclasses.dataclass
class ClientCounters(Counters):
    calls: int = 0
    rows: int = 0
    cached_rows: int = 0
    requests: int = 0
    """Eval requests that got an HTTP answer (errors included)."""
    rows_sent: int = 0
    transport_errors: int = 0
    dictionary_reloads: int = 0
    unstored_rows: int = 0
    """Fetched rows not stored because the server's dictionary hash was not the client's."""


@dataclass(frozen=True)
class _State:
    """The dictionary and the keys built from it, swapped in one assignment on a reload."""

    dictionary: Dictionary | None
    keys: KeyBuilder

    @property
    def dict_hash(self) -> int:
        return self.dictionary.hash if self.dictionary is not None else 0


@dataclass
class _Call:
    """One ``run``/``eval`` between the lookups and the server's answer."""

    state: _State
    keys: list[str]
    """Each row's key."""
    columns: dict[str, list[Any]]
    """``run``: each field's checked value in each row (``ABSENT`` where a row leaves it out)."""
    row: dict[str, Any] | None
    """``eval``: its one row's checked values."""
    found: dict[str, Entry]
    misses: list[str]
    """The distinct keys that no cache tier answered, in input order: the request's rows."""


class Client:
    """A model's client over one or more mly-compatible servers; thread-safe.

    ``hosts``: ``"name:port"``, ``("name", port)`` or ``"http://name:port"`` (round robin).
    ``cache_scope``: which of the server's datastore tiers the client reads (local memory
    always, when the server's model has a datastore). ``cache_size_mb``: the local cache's
    size (default: the server's ``Cache.SizeMb``, else 64). ``timeout``: seconds, every
    request. ``max_retry``: extra attempts after a transport error, each on the next host that
    is up (never after an HTTP answer). ``http2``: HTTP/2 with prior knowledge (h2c), as mly's
    Go client; the default is HTTP/1.1 with keep-alive. ``config``: an mly configuration file
    (the servers' YAML) to take the model's datastore and its connections from instead of
    ``/meta/config``, whose connections our server does not publish.
    """

    def __init__(
        self,
        model_id: str,
        hosts: Sequence[str | tuple[str, int]] | str,
        *,
        cache_scope: CacheScope = "local",
        cache_size_mb: float | None = None,
        timeout: float = 5.0,
        max_retry: int = 3,
        http2: bool = False,
        config: str | os.PathLike[str] | None = None,
        backoff_s: float = 0.1,
        max_backoff_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if cache_scope not in CACHE_SCOPES:
            raise ValueError(f"cache_scope must be one of {CACHE_SCOPES}, got {cache_scope!r}")
        if max_retry < 0:
            raise ValueError(f"max_retry must be >= 0, got {max_retry}")
        if not model_id or "/" in model_id:
            raise ValueError(f"not a model ID: {model_id!r}")
        self.model_id = model_id
        self.counters = ClientCounters()
        self.hosts = HostPool(
            [hosts] if isinstance(hosts, str) else hosts,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
        )
        self._max_retry = max_retry
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._http2 = http2
        self._http = transport or httpx.HTTPTransport(http1=not http2, http2=http2)
        self._async_transport = async_transport
        self._async: tuple[asyncio.AbstractEventLoop, httpx.AsyncBaseTransport] | None = None
        self._async_lock = threading.Lock()
        self._reloading = threading.Lock()
        self.store: TieredStore | None = None
        try:
            self.meta: ModelMeta = parse_meta_config(model_id, self._get_json("config"))
            if config is not None:
                datastore = datastore_from_config(model_id, load_config(config))
                self.meta = dataclasses.replace(self.meta, datastore=datastore)
            self._state = self._new_state(self._get_json("dictionary"))
            spec = self.meta.scoped(cache_scope, cache_size_mb)
            if spec is not None and self.meta.datastore is not None:
                from bridge.cache.factory import open_datastore

                self.store = open_datastore(spec, self.meta.datastore)
        except BaseException:
            self._http.close()
            raise

    # -- public API ----------------------------------------------------------------------

    @property
    def dict_hash(self) -> int:
        """The hash of the dictionary the client builds keys with."""
        return self._state.dict_hash

    @property
    def key_builder(self) -> KeyBuilder:
        return self._state.keys

    def run(self, rows: Sequence[Mapping[str, Any]]) -> Result:
        """Many rows → a :class:`Result` (every row answered, or an exception)."""
        call = self._prepare(rows)
        self._lookup(call)
        return self._complete(call)

    def eval(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """One row → its outputs."""
        call = self._prepare_one(row)
        self._lookup(call)
        return self._complete(call).data[0] if call.misses else self._hit(call)

    async def arun(self, rows: Sequence[Mapping[str, Any]]) -> Result:
        """:meth:`run` for asyncio (remote cache tiers are read on a worker thread)."""
        call = self._prepare(rows)
        await self._alookup(call)
        return await self._acomplete(call)

    async def aeval(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`eval` for asyncio."""
        call = self._prepare_one(row)
        await self._alookup(call)
        return (await self._acomplete(call)).data[0] if call.misses else self._hit(call)

    def close(self) -> None:
        self._http.close()
        if self.store is not None:
            self.store.close()
        with self._async_lock:
            pair, self._async = self._async, None
        if pair is not None and not pair[0].is_closed():
            with contextlib.suppress(RuntimeError):  # a loop that is not running: no connections
                asyncio.run_coroutine_threadsafe(pair[1].aclose(), pair[0])

    async def aclose(self) -> None:
        with self._async_lock:
            pair, self._async = self._async, None
        if pair is not None and pair[0] is asyncio.get_running_loop():
            await pair[1].aclose()
        self._http.close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the steps of a call ------------------------------------------------------------

    def _prepare(self, rows: Sequence[Mapping[str, Any]]) -> _Call:
        """Column by column: the values of the rows that hit are never looked at again."""
        if not isinstance(rows, (list, tuple)):
            raise InputError(f"rows must be a list of dicts, not {type(rows).__name__}")
        state = self._state
        columns, keys = state.keys.prepare_many(rows)
        self.counters.add_many(calls=1, rows=len(rows))
        return _Call(state, keys, columns, None, {}, list(dict.fromkeys(keys)))

    def _prepare_one(self, row: Mapping[str, Any]) -> _Call:
        state = self._state
        values, key = state.keys.prepare(row)
        counters = self.counters
        with counters.lock:
            counters.calls += 1
            counters.rows += 1
        keys = [key]
        return _Call(state, keys, {}, values, {}, keys)

    def _lookup(self, call: _Call) -> None:
        """Fills ``found`` and leaves in ``misses`` (every distinct key until then) the rest."""
        store = self.store
        if store is None or not call.keys:
            return
        if call.row is not None:  # eval: one key
            key = call.keys[0]
            entry = store.get_one(key, call.state.dict_hash)
            if entry is not None:
                call.found, call.misses = {key: entry}, []
            return
        unique = call.misses
        found = store.get_many(unique, call.state.dict_hash)
        call.found = {k: e for k, e in zip(unique, found, strict=True) if e is not None}
        call.misses = [k for k in unique if k not in call.found] if call.found else unique

    async def _alookup(self, call: _Call) -> None:
        store = self.store
        if store is not None and (store.l1 is not None or store.l2 is not None):
            await asyncio.to_thread(self._lookup, call)  # Redis/Aerospike clients block
        else:
            self._lookup(call)

    def _request_body(self, call: _Call) -> dict[str, Any]:
        """Only the misses: a flat row for ``eval``, else ``batch_size`` first, the arrays,
        then ``cache_key`` (mly's server needs ``batch_size`` before the arrays)."""
        misses = call.misses
        if call.row is not None:
            return {**call.row, "cache_key": misses[0]}
        keys = call.keys
        first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))  # first row
        picked = [first[k] for k in misses]
        body: dict[str, Any] = {"batch_size": len(picked)}
        for name, column in call.columns.items():
            values = [column[i] for i in picked]
            if ABSENT not in values:
                body[name] = values
            elif any(v is not ABSENT for v in values):
                raise InputError(
                    f"field {name!r} is given in some rows and not in others: a batch request "
                    "carries it for every row or for none"
                )
        body["cache_key"] = misses
        return body

    def _complete(self, call: _Call) -> Result:
        if not call.misses:
            return self._cached_result(call)
        url, document = self._post(self._request_body(call))
        result = self._merge(call, url, document)
        if result.dict_hash != self._state.dict_hash and self._reloading.acquire(blocking=False):
            try:
                self._state = self._new_state(self._get_json("dictionary"))
            finally:
                self._reloading.release()
        return result

    async def _acomplete(self, call: _Call) -> Result:
        if not call.misses:
            return self._cached_result(call)
        url, document = await self._apost(self._request_body(call))
        result = self._merge(call, url, document)
        if result.dict_hash != self._state.dict_hash and self._reloading.acquire(blocking=False):
            try:
                self._state = self._new_state(await self._aget_json("dictionary"))
            finally:
                self._reloading.release()
        return result

    def _hit(self, call: _Call) -> dict[str, Any]:
        """``eval``'s row from a cache tier."""
        counters = self.counters
        with counters.lock:
            counters.cached_rows += 1
        return dict(call.found[call.keys[0]].values)

    def _cached_result(self, call: _Call) -> Result:
        self.counters.add("cached_rows", len(call.keys))
        found = call.found
        return Result(
            "cached",
            [dict(found[k].values) for k in call.keys],
            call.state.dict_hash,
            [True] * len(call.keys),
        )

    def _merge(self, call: _Call, url: str, document: Any) -> Result:
        """The server's rows by key, with the cached ones, in input order; fetched rows stored."""
        misses = call.misses
        if not isinstance(document, dict):
            raise ProtocolError(url, f"expected a JSON object, got {type(document).__name__}")
        if document.get("status") != "ok":
            problem = document.get("error") or f"status {document.get('status')!r}"
            raise ProtocolError(url, f"the server did not answer ok: {problem}")
        dict_hash = document.get("dictHash", 0)
        if not isinstance(dict_hash, int) or isinstance(dict_hash, bool):
            raise ProtocolError(url, f"dictHash is not an integer: {dict_hash!r:.40}")
        data = document.get("data")
        rows = [data] if call.row is not None else data
        if not isinstance(rows, list) or len(rows) != len(misses):
            got = f"{len(rows)} rows" if isinstance(rows, list) else type(data).__name__
            raise ProtocolError(url, f"asked for {len(misses)} rows, the answer has {got}")
        if not all(isinstance(r, dict) for r in rows):
            raise ProtocolError(url, "every row of data must be an object")
        fresh: dict[str, dict[str, Any]] = dict(zip(misses, rows, strict=True))
        store = self.store
        if store is not None and store.local is not None:
            if dict_hash == call.state.dict_hash:
                store.local.store.put_many(
                    [(k, Entry(dict_hash, v)) for k, v in fresh.items()], store.local.ttl_ms
                )
            else:
                self.counters.add("unstored_rows", len(fresh))
        found = call.found
        cached = [k in found for k in call.keys]
        hits = sum(cached)
        self.counters.add_many(cached_rows=hits, rows_sent=len(misses))
        service_time = document.get("serviceTimeMcs", 0)
        return Result(
            "ok",
            [dict(found[k].values if k in found else fresh[k]) for k in call.keys],
            dict_hash,
            cached,
            service_time if isinstance(service_time, int) else 0,
        )

    def _new_state(self, dictionary_json: Any) -> _State:
        try:
            dictionary = dictionary_from_json(dictionary_json)
        except DictionaryError as exc:
            raise ProtocolError(self._url("dictionary"), f"meta/dictionary: {exc}") from None
        if hasattr(self, "_state"):
            self.counters.add("dictionary_reloads")
        return _State(dictionary, self.meta.key_builder(dictionary))

    # -- HTTP ---------------------------------------------------------------------------

    def _url(self, what: str, host: Host | None = None) -> str:
        base = host.url if host is not None else self.hosts.hosts[0].url
        path = "eval" if what == "eval" else f"meta/{what}"
        return f"{base}{API_PREFIX}/{self.model_id}/{path}"

    def _post(self, body: dict[str, Any]) -> tuple[str, Any]:
        return self._exchange("eval", body)

    async def _apost(self, body: dict[str, Any]) -> tuple[str, Any]:
        return await self._aexchange("eval", body)

    def _get_json(self, what: str) -> Any:
        return self._exchange(what, None)[1]

    async def _aget_json(self, what: str) -> Any:
        return (await self._aexchange(what, None))[1]

    def _request(self, url: str, body: dict[str, Any] | None) -> httpx.Request:
        """A GET, or a POST of ``body`` as compact JSON (what ``httpx``'s ``json=`` sends)."""
        parsed = _parse_url(url)
        if body is None:
            return httpx.Request("GET", parsed, headers=_HEADERS, extensions=self._extensions)
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return httpx.Request(
            "POST",
            parsed,
            content=content.encode(),
            headers=_JSON_HEADERS,
            extensions=self._extensions,
        )

    def _exchange(self, what: str, body: dict[str, Any] | None) -> tuple[str, Any]:
        """One request, on the next host that is up; transport failures move to the next.

        Sent on the transport itself (``httpx``'s connection pool, keep-alive, HTTP/2 and
        timeouts), not through ``httpx.Client``, whose redirects, cookies, auth and proxy
        settings mly's API has no use for and which cost ~0.1 ms a request."""
        failures: list[tuple[str, Exception]] = []
        for _ in range(self._max_retry + 1):
            host = self.hosts.pick()
            url = self._url(what, host)
            request = self._request(url, body)
            try:
                response = self._http.handle_request(request)
                try:
                    response.read()
                finally:
                    response.close()
            except httpx.TransportError as exc:
                self._transport_failed(host, url, exc, failures)
                continue
            return url, self._answer(host, what, url, response)
        raise HostsUnavailable(failures)

    async def _aexchange(self, what: str, body: dict[str, Any] | None) -> tuple[str, Any]:
        """:meth:`_exchange` on the event loop's transport."""
        http = self._async_client()
        failures: list[tuple[str, Exception]] = []
        for _ in range(self._max_retry + 1):
            host = self.hosts.pick()
            url = self._url(what, host)
            request = self._request(url, body)
            try:
                response = await http.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                self._transport_failed(host, url, exc, failures)
                continue
            return url, self._answer(host, what, url, response)
        raise HostsUnavailable(failures)

    def _transport_failed(
        self, host: Host, url: str, exc: Exception, failures: list[tuple[str, Exception]]
    ) -> None:
        self.hosts.failed(host)
        self.counters.add("transport_errors")
        failures.append((url, exc))

    def _answer(self, host: Host, what: str, url: str, response: httpx.Response) -> Any:
        """The JSON of a 200, or the server's error as :class:`ServerError` (no retry)."""
        self.hosts.succeeded(host)
        if what == "eval":
            self.counters.add("requests")
        if response.status_code != 200:
            raise ServerError(response.status_code, _error_message(response), url)
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolError(url, f"the answer is not JSON: {exc}") from None

    def _async_client(self) -> httpx.AsyncBaseTransport:
        """One async transport per event loop (its connections belong to the loop)."""
        loop = asyncio.get_running_loop()
        with self._async_lock:
            if self._async is None or self._async[0] is not loop:
                http2 = self._http2
                transport = self._async_transport or httpx.AsyncHTTPTransport(
                    http1=not http2, http2=http2
                )
                self._async = (loop, transport)
            return self._async[1]


@functools.lru_cache(maxsize=256)
def _parse_url(url: str) -> httpx.URL:
    """Each host's few URLs, parsed once (a parse is about half of building a request)."""
    return httpx.URL(url)


def _error_message(response: httpx.Response) -> str:
    """Our server's ``{"status":"error","error":"…"}``, or mly's plain text."""
    text = response.text.strip()
    try:
        document = response.json()
    except ValueError:
        return text or response.reason_phrase
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    return text or response.reason_phrase
