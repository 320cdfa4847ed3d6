"""The ``"mly"`` loader: an mly configuration file → ``<ID>.eval`` and ``<ID>.process_batch``.

    bridge.load_from_file("mly", ["examples/wine_quality.yaml"])
    bridge.call("wine_quality.eval", {"country": "Italy", …})

TensorFlow and the datastore clients are imported on the first load, not when :mod:`bridge` is
imported, so hosts that only run plain scripts do not pay for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.config import Config, load_config, parse_config
from bridge.errors import DuplicateFunctionError, LoadError
from bridge.mly.reload import Reloader, baseline

if TYPE_CHECKING:
    from bridge.cache import TieredStore
    from bridge.mly.service import ModelService


class MlyLoader:
    """Keeps every model service and datastore it created, for counters and reloads.

    Every model it serves is warmed with one evaluation before its functions are registered,
    and then watched by :attr:`reloader` (hot reload for every host).
    """

    def __init__(self) -> None:
        self.services: dict[str, ModelService] = {}
        self.datastores: dict[str, TieredStore] = {}
        self.configs: list[Config] = []
        self.reloader = Reloader()
        self._lock = threading.Lock()
        self._loading: set[str] = set()  # model IDs of loads in progress (loads may overlap)

    def load_file(self, path: Path) -> Mapping[str, Callable[..., Any]]:
        return self._load(load_config(path))

    def load_memory(self, source: str, name: str) -> Mapping[str, Callable[..., Any]]:
        return self._load(parse_config(source, source=f"<memory:{name or 'mly'}>"))

    def load(self, config: Config) -> Mapping[str, Callable[..., Any]]:
        """Serve an already parsed configuration (the ``"mly-server"`` loader's way in)."""
        return self._load(config)

    def _load(self, config: Config) -> Mapping[str, Callable[..., Any]]:
        # Refused before anything is opened: the runtime would refuse the names anyway, and the
        # served model of that ID must keep its entry (and counters) here.
        ids = {m.id for m in config.models}
        with self._lock:
            served = sorted(i for i in ids if i in self.services or i in self._loading)
            if not served:
                self._loading |= ids
        if served:
            names = [f"{i}.{fn}" for i in served for fn in ("eval", "process_batch")]
            raise DuplicateFunctionError(names, config.source)
        try:
            return self._open(config)
        finally:
            with self._lock:
                self._loading -= ids

    def _open(self, config: Config) -> Mapping[str, Callable[..., Any]]:
        from bridge.cache.factory import open_datastore
        from bridge.mly.service import ModelService

        used = {m.datastore for m in config.models if m.datastore}
        stores: dict[str, TieredStore] = {}
        services: list[ModelService] = []
        # Taken before loading, so that a change made while a model loads is seen by the poller.
        baselines = [baseline(model.url) for model in config.models]
        try:
            for spec in config.datastores:
                if spec.id in used and not spec.disabled:
                    stores[spec.id] = open_datastore(spec, config)
            for i, model in enumerate(config.models):
                service = ModelService(model, stores.get(model.datastore), path=f"Models[{i}]")
                service.warm()
                services.append(service)
        except Exception as exc:
            for store in stores.values():
                store.close()
            if isinstance(exc, LoadError):
                if config.source not in str(exc):
                    raise LoadError(f"{config.source}: {exc}") from exc
                raise
            raise LoadError(f"{config.source}: {type(exc).__name__}: {exc}") from exc
        functions: dict[str, Callable[..., Any]] = {}
        for service in services:
            functions[f"{service.id}.eval"] = service.eval
            functions[f"{service.id}.process_batch"] = service.process_batch
        with self._lock:
            self.configs.append(config)
            for service in services:
                self.services[service.id] = service
            for store_id, store in stores.items():
                name = (
                    store_id if store_id not in self.datastores else f"{config.source}#{store_id}"
                )
                self.datastores[name] = store
        for service, start in zip(services, baselines, strict=True):
            self.reloader.watch(service, service.spec.reload_interval_ms, start)
        return functions

    def snapshot(self) -> dict[str, Any]:
        """Every counter: ``{"datastores": {id: …}, "models": {id: …}, "reload": {id: …}}``
        (``reload``: :meth:`Reloader.status`)."""
        with self._lock:
            datastores = dict(self.datastores)
            services = dict(self.services)
        return {
            "datastores": {name: store.snapshot() for name, store in datastores.items()},
            "models": {name: svc.counter_snapshot() for name, svc in services.items()},
            "call_seconds": {name: svc.call_seconds.snapshot() for name, svc in services.items()},
            "call_rows": {name: svc.call_rows.snapshot() for name, svc in services.items()},
            "reload": self.reloader.status(),
        }

    def health(self) -> dict[str, int]:
        """mly's health body: ``{"<id>": 1}`` per served model, 0 after a failed reload."""
        return self.reloader.health()

    def flush(self) -> None:
        """Wait for every datastore's background writes."""
        for store in list(self.datastores.values()):
            store.flush()

    def close(self) -> None:
        """Close every datastore and forget every model (the runtime's ``clear`` calls it)."""
        self.reloader.close()
        with self._lock:
            stores = list(self.datastores.values())
            self.datastores.clear()
            self.services.clear()
            self.configs.clear()
        for store in stores:
            store.close()

    def discard(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        """The runtime refused this load (a taken name, or it was cleared meanwhile): forget
        its models and close the datastores they use."""
        services = {getattr(fn, "__self__", None) for fn in functions.values()}
        opened = {id(getattr(svc, "store", None)) for svc in services} - {id(None)}
        with self._lock:
            for model_id in [i for i, svc in self.services.items() if svc in services]:
                del self.services[model_id]
                self.reloader.unwatch(model_id)
            kept = {id(svc.store) for svc in self.services.values()}
            dropped = [
                (name, store)
                for name, store in self.datastores.items()
                if id(store) in opened and id(store) not in kept
            ]
            for name, _ in dropped:
                del self.datastores[name]
        for _, store in dropped:
            store.close()

    def clear(self) -> None:
        """The runtime forgot every function: release every load (:meth:`close`)."""
        self.close()
