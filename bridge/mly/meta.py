"""What the HTTP server (``go_host/server``) asks the runtime for, in mly's shapes.

The server parses no YAML: it loads the configuration with the ``"mly-server"`` loader, which
loads the models as the ``"mly"`` loader does (``<ID>.eval``, ``<ID>.process_batch``) and adds

* ``<ID>.serve(requests)``: the server's hot path. ``requests`` is a list of
  ``[rows, cache_keys]`` (one entry per coalesced HTTP request; ``cache_keys`` is the client's
  ``cache_key`` list or ``None``). All rows go through the cache and the model together (one
  :meth:`~bridge.mly.service.ModelService.process_many`); the answer has one entry per request:
  ``[dict_hash, [outputs, …]]`` (plus, when the request gave ``cache_keys`` and the model has
  a cache, how many of them differ from the server's keys), a string saying why that request's
  rows were refused, or
  ``{"error": …}`` when the model failed on them (the other requests of the call still get
  their answers).
* ``mlbridge.server.describe()``: the endpoint settings and, per model, its fields, outputs and
  batching settings, as JSON text.
* ``mlbridge.server.meta(id, what)``: ``what`` = ``"config"`` (mly's ``/meta/config``:
  ``config.Remote``), ``"dictionary"`` (mly's ``common.Dictionary``; ``null`` without one) or
  ``"stats"`` (this side's counters), as JSON text.
* the ``mlbridge.ops.*`` functions of :mod:`bridge.mly.ops` (health, metrics snapshot, flush).

One server configuration per process: a second ``"mly-server"`` load is refused.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bridge.cache import Counters
from bridge.config import Batch, Config, load_config, parse_config
from bridge.errors import LoadError
from bridge.mly import ops
from bridge.mly.keys import InputError
from bridge.mly.loader import MlyLoader
from bridge.mly.service import ModelService

DESCRIBE = "mlbridge.server.describe"
META = "mlbridge.server.meta"


@dataclasses.dataclass
class ServeCounters(Counters):
    requests: int = 0
    refused: int = 0
    """Requests whose rows the model refused (400)."""
    cache_key_disagreements: int = 0
    """Rows whose client ``cache_key`` differs from the key the server computed."""


class ServedModel:
    """One model as the HTTP server calls it."""

    def __init__(self, service: ModelService, config: Config) -> None:
        self.service = service
        self.config = config
        self.counters = ServeCounters()

    def serve(self, requests: list[list[Any]]) -> list[Any]:
        try:
            return self._serve(requests)
        except Exception:
            if len(requests) == 1:
                raise
        # One request's rows broke the model call: answer each request on its own, so that
        # only the culprit fails (with ``{"error": …}``: a model failure, not a refusal).
        out: list[Any] = []
        for request in requests:
            try:
                out.extend(self._serve([request]))
            except Exception as exc:
                out.append({"error": f"{type(exc).__name__}: {exc}"})
        return out

    def _serve(self, requests: list[list[Any]]) -> list[Any]:
        batches = [request[0] for request in requests]
        results, keys, dict_hash = self.service.process_many(batches)
        out: list[Any] = []
        refused = disagreements = 0
        for i, result in enumerate(results):
            if isinstance(result, InputError):
                out.append(str(result))
                refused += 1
                continue
            given = requests[i][1]
            if given is not None and keys is not None:
                differ = sum(1 for a, b in zip(given, keys[i], strict=False) if a != b)
                disagreements += differ
                out.append([dict_hash, result, differ])  # the server memoises only 0
                continue
            out.append([dict_hash, result])
        self.counters.add_many(
            requests=len(requests), refused=refused, cache_key_disagreements=disagreements
        )
        return out

    # -- descriptions ----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        fields = self.service.fields
        dictionary = self.service.dictionary
        return {
            "id": self.service.id,
            "dictHash": dictionary.hash if dictionary is not None else 0,
            "fields": [
                {"name": f.name, "kind": f.kind, "input": f.model_input, "required": f.required}
                for f in fields
            ],
            "outputs": list(self.service.output_names),
            "batch": batch_settings(self.config.batching(self.service.spec)),
            "memoTtlMs": self.memo_ttl_ms(),
        }

    def memo_ttl_ms(self) -> int:
        """How long the server may keep an answer of this model in its memo
        (``go_host/server/memo.go``): the shortest ``TimeToLiveMs`` of the datastore's tiers;
        0 without a datastore (every request is evaluated) or with no tier at all."""
        store = self.service.store
        if store is None:
            return 0
        return min((t.ttl_ms for t in store.tiers), default=0)

    def remote_config(self) -> dict[str, Any]:
        """mly's ``config.Remote`` (``/meta/config``), which its Go client reads at start-up.

        The datastore's connections are not given out: mly's client would dial them as
        Aerospike; it caches locally (``Cache``) and asks this server for the rest.
        """
        spec = self.service.spec
        inputs = []
        for f in self.service.fields:
            item: dict[str, Any] = {"Name": f.name, "Index": 0, "DataType": self.dtype(f.name)}
            if f.wildcard and f.model_input:
                item["Wildcard"] = True
            if f.precision:
                item["Precision"] = f.precision
            if not f.model_input:
                item["Auxiliary"] = True
            inputs.append(item)
        outputs = [
            {"Name": name, "Index": 0, "DataType": self.service.output_dtypes.get(name, "")}
            for name in self.service.output_names
        ]
        remote: dict[str, Any] = {"Connections": None, "ID": "", "Cache": None, "Storable": ""}
        if self.service.store is not None and spec.datastore:
            store = self.config.datastore(spec.datastore)
            cache = None
            if store.cache is not None:
                cache = {
                    "MaxEntries": 0,
                    "EntrySize": 0,
                    "SizeMb": _number(store.cache.size_mb),
                    "Shards": 32,
                    "Location": "",
                }
            remote.update(
                {
                    "ID": store.id,
                    "Cache": cache,
                    "Connection": "",
                    "Namespace": "",
                    "Dataset": "",
                    "TimeToLiveMs": store.time_to_live_ms,
                    "RetryTimeMs": store.retry_time_ms,
                    "Fields": [{"Name": n, "DataType": ""} for n in self.service.output_names[:1]],
                }
            )
        else:
            remote["Fields"] = None
        remote["Inputs"] = inputs
        remote["KeyFields"] = list(self.service.key_fields)
        remote["Outputs"] = outputs
        return remote

    def dtype(self, name: str) -> str:
        configured = {f.name: f.data_type for f in self.service.spec.inputs}
        return configured.get(name) or self.service.input_dtypes.get(name, "")

    def dictionary(self) -> dict[str, Any] | None:
        dictionary = self.service.dictionary
        return dictionary.to_json() if dictionary is not None else None

    def stats(self) -> dict[str, Any]:
        store = self.service.store
        return {
            "server": self.counters.snapshot(),
            "model": self.service.counters.snapshot(),
            # hits, misses and writes per tier (local, l1, l2): where a repeat was found
            "datastore": store.snapshot() if store is not None else None,
        }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def endpoint_settings(config: Config) -> dict[str, Any]:
    """The ``Endpoint`` section, camel-cased for the server."""
    e = config.endpoint
    return {
        "port": e.port,
        "host": e.host,
        "bufferSize": e.buffer_size,
        "readTimeoutMs": e.read_timeout_ms,
        "writeTimeoutMs": e.write_timeout_ms,
        "maxHeaderBytes": e.max_header_bytes,
    }


def batch_settings(batch: Batch | None) -> dict[str, int] | None:
    if batch is None:
        return None
    return {
        "maxBatchSize": batch.max_batch_size,
        "batchWaitMicros": batch.batch_wait_micros,
        "maxEvaluatorConcurrency": batch.max_evaluator_concurrency,
        "maxQueuedBatches": batch.max_queued_batches,
    }


class ServerLoader:
    """The ``"mly-server"`` loader: a configuration for the HTTP server (see the module doc)."""

    def __init__(self, mly: MlyLoader) -> None:
        self._mly = mly
        self._lock = threading.Lock()
        self.config: Config | None = None
        self.models: dict[str, ServedModel] = {}

    def load_file(self, path: Path) -> Mapping[str, Callable[..., Any]]:
        return self._load(load_config(path))

    def load_memory(self, source: str, name: str) -> Mapping[str, Callable[..., Any]]:
        return self._load(parse_config(source, source=f"<memory:{name or 'mly-server'}>"))

    def _load(self, config: Config) -> Mapping[str, Callable[..., Any]]:
        with self._lock:
            if self.config is not None:
                raise LoadError(
                    f"{config.source}: a server configuration is already loaded "
                    f"({self.config.source}); one per process"
                )
            endpoint = endpoint_settings(config)
            functions = dict(self._mly.load(config))
            models = {m.id: ServedModel(self._mly.services[m.id], config) for m in config.models}
            for model_id, served in models.items():
                functions[f"{model_id}.serve"] = served.serve
            self.config, self.models = config, models
            # TensorFlow and the models are ~340,000 long-lived Python objects that every full
            # collection walked again: 150 ms, under load every few seconds (a p99 spike, and
            # ~10 % of the serve path's time). Frozen, a full collection takes ~20 ms.
            gc.collect()
            gc.freeze()

        def describe() -> str:
            return json.dumps(
                {
                    "source": config.source,
                    "endpoint": endpoint,
                    "models": [served.describe() for served in models.values()],
                }
            )

        def meta(model_id: str, what: str) -> str:
            served = models.get(model_id)
            if served is None:
                raise KeyError(f"no model {model_id!r}")
            if what == "config":
                return json.dumps(served.remote_config(), separators=(",", ":"))
            if what == "dictionary":
                return json.dumps(served.dictionary(), separators=(",", ":"))
            if what == "stats":
                return json.dumps(served.stats(), separators=(",", ":"))
            raise ValueError(f"no meta {what!r} (config, dictionary, stats)")

        functions[DESCRIBE] = describe
        functions[META] = meta
        functions.update(ops.functions(config, self._mly))  # health, metrics, drain (ops)
        return functions

    def discard(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        """The runtime refused this load: forget it, and its models (the ``"mly"`` loader's)."""
        with self._lock:
            if self.config is not None and DESCRIBE in functions:
                self.config, self.models = None, {}
                gc.unfreeze()  # the models may go now
        self._mly.discard(functions)

    def clear(self) -> None:
        with self._lock:
            self.config, self.models = None, {}
            gc.unfreeze()
