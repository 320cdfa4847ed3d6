"""An in-memory mly server for the client's logic tests, behind ``httpx.MockTransport``.

It speaks mly's protocol for a model shaped like mly's ``string_lookups_int_model`` (two string
inputs ``sa`` and ``sl`` with vocabularies, one int output ``expand``), and records every
request. The real servers (ours and viant/mly's) are in tests/test_client_servers.py.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bridge.models.dictionary import Dictionary, combine, make_layer

ROWS = [
    {"sa": "a", "sl": "a"},
    {"sa": "b", "sl": "c"},
    {"sa": "zz", "sl": "a"},
]


def vocabulary_dictionary(words: tuple[str, ...]) -> Dictionary:
    layers = [make_layer(name, ["", "[UNK]", *words]) for name in ("sa", "sl")]
    return Dictionary(tuple(layers), combine(layers))


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    host: str


@dataclass
class FakeMly:
    """``handler`` answers like mly's server; tests change its fields to misbehave."""

    words: tuple[str, ...] = ("a", "b", "c")
    datastore: dict[str, Any] = field(
        default_factory=lambda: {"ID": "sli", "Cache": {"SizeMb": 8}, "TimeToLiveMs": 30000}
    )
    connections: list[dict[str, Any]] | None = None
    requests: list[Recorded] = field(default_factory=list)
    fail_with: tuple[int, str] | None = None
    """(status, plain-text body) for every eval."""
    down_hosts: set[str] = field(default_factory=set)
    """Hosts (``127.0.0.1:1``) whose connections are refused."""
    silent_hosts: set[str] = field(default_factory=set)
    """Hosts that accept the request and never answer (a read timeout)."""
    hash_override: int | None = None
    """A ``dictHash`` to answer instead of the dictionary's (a server that reloaded)."""
    drop_rows: int = 0
    """Rows to leave out of a batch answer (a broken server)."""
    on_eval: Callable[[Recorded], None] | None = None
    on_dictionary: Callable[[Recorded], None] | None = None
    """Called before a dictionary is answered (a test can hold a reload in flight)."""

    @property
    def dictionary(self) -> Dictionary:
        return vocabulary_dictionary(self.words)

    def value(self, sa: str, sl: str) -> int:
        """The fake model: depends on the vocabulary-normalised inputs only."""
        known = ["", "[UNK]", *self.words]
        norm = [v if v in self.words else "[UNK]" for v in (sa, sl)]
        return 10 * known.index(norm[0]) + known.index(norm[1])

    def evals(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/eval")]

    def handler(self, request: httpx.Request) -> httpx.Response:
        host = f"{request.url.host}:{request.url.port}"
        if host in self.down_hosts:
            raise httpx.ConnectError("connection refused", request=request)
        if host in self.silent_hosts:
            raise httpx.ReadTimeout("timed out", request=request)
        body: Any = json.loads(request.content) if request.content else None
        recorded = Recorded(request.method, request.url.path, body, host)
        self.requests.append(recorded)
        path = request.url.path
        if path == "/v1/api/model/sli/meta/config":
            document = {
                "Connections": self.connections,
                **self.datastore,
                "Inputs": [
                    {"Name": "sa", "Index": 0, "DataType": "string"},
                    {"Name": "sl", "Index": 0, "DataType": "string"},
                ],
                "KeyFields": ["sa", "sl"],
                "Outputs": [{"Name": "expand", "Index": 0, "DataType": "int64"}],
            }
            return httpx.Response(200, json=document)
        if path == "/v1/api/model/sli/meta/dictionary":
            if self.on_dictionary is not None:
                self.on_dictionary(recorded)
            return httpx.Response(
                200,
                content=gzip.compress(json.dumps(self.dictionary.to_json()).encode()),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if path != "/v1/api/model/sli/eval":
            return httpx.Response(404, text="404 page not found\n")
        if self.on_eval is not None:
            self.on_eval(recorded)
        if self.fail_with is not None:
            return httpx.Response(self.fail_with[0], text=self.fail_with[1] + "\n")
        dict_hash = self.hash_override if self.hash_override is not None else self.dictionary.hash
        if "batch_size" in body:
            n = body["batch_size"]
            data: Any = [
                {"expand": self.value(body["sa"][i], body["sl"][i])}
                for i in range(n - self.drop_rows)
            ]
        else:
            data = {"expand": self.value(body["sa"], body["sl"])}
        return httpx.Response(
            200,
            json={"status": "ok", "dictHash": dict_hash, "serviceTimeMcs": 5, "data": data},
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def async_transport(self) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self.handler(request)

        return httpx.MockTransport(handle)
