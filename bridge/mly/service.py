"""One configured model served through its datastore: ``eval`` and ``process_batch``.

``process_batch`` builds every row's key, looks all of them up with one multi-get per tier,
evaluates only the misses in one model call, stores them, and answers in input order.
Concurrent misses on one key are evaluated once (:class:`bridge.cache.Group`). The cache never
fails a prediction: a datastore that is down costs misses (see :class:`bridge.cache.Breaker`).

Over 400 lines because the serving path (keys, tiers, single-flight, the model call) and hot
reload's swap share :class:`ModelVersion`, which a call reads once: they stay in one class.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from bridge.cache import Counters, Entry, Group, Shape, TieredStore
from bridge.cache.singleflight import GroupCounters
from bridge.config import ConfigError, Model
from bridge.errors import LoadError
from bridge.mly.keys import (
    ABSENT,
    FieldSpec,
    InputError,
    KeyBuilder,
    kind_of,
    make_field,
    needs_vocabulary,
)
from bridge.mly.latency import ROW_BUCKETS, Histogram
from bridge.mly.reload import warm_up
from bridge.models.dictionary import Dictionary, load_dictionary
from bridge.versions import models_changed


class Predictor(Protocol):
    """What a model must offer (:class:`bridge.models.SavedModel` does)."""

    @property
    def input_dtypes(self) -> dict[str, str]: ...

    @property
    def output_names(self) -> list[str]: ...

    def predict(self, inputs: dict[str, list[Any]]) -> dict[str, list[Any]]: ...


def load_saved_model(path: Path) -> Predictor:
    """The default predictor: a SavedModel (TensorFlow is imported with the first one)."""
    from bridge.models import SavedModel

    return SavedModel(path)


PredictorFactory = Callable[[Path], Predictor]

Row = dict[str, Any]
Columns = dict[str, list[Any]]
"""Checked rows column by column: field → its value in each row (``KeyBuilder.prepare_many``)."""


def _entry_shape(predictor: Predictor) -> Shape:
    """Output name → kind (from the signature's dtype when the predictor has one, as
    :class:`bridge.models.SavedModel` does) and whether it is one scalar per example."""
    signature = getattr(predictor, "signature", None)
    outputs = {name: ("any", True) for name in predictor.output_names}
    for info in getattr(signature, "outputs", ()):
        scalar = len(info.shape) == 1 or info.is_column
        outputs[info.name] = (kind_of(info.dtype), scalar)
    return Shape(outputs)


@dataclasses.dataclass
class ModelCounters(Counters):
    calls: int = 0
    rows: int = 0
    evaluations: int = 0
    """Model calls (one per batch of misses)."""
    rows_evaluated: int = 0


@dataclasses.dataclass(frozen=True)
class ModelVersion:
    """Everything a reload replaces, swapped in one assignment."""

    predictor: Predictor
    dictionary: Dictionary | None
    keys: KeyBuilder
    url: Path
    flights: Group[dict[str, Any]]
    """Single-flight per version: a call on the new version never waits for (and takes the
    answer of) an evaluation still running on the old one."""
    shape: Shape
    """The outputs a cached entry must hold to be served (issue #14 item 7)."""


class ModelService:
    """``spec`` served with ``store`` (``None``: no caching)."""

    def __init__(
        self,
        spec: Model,
        store: TieredStore | None,
        *,
        path: str = "Models[?]",
        predictor_factory: PredictorFactory = load_saved_model,
    ) -> None:
        self.spec = spec
        self.id = spec.id
        self.store = store if spec.use_dict else None  # mly: caching needs the dictionary
        self.counters = ModelCounters()
        self.call_seconds = Histogram()
        self.call_rows = Histogram(ROW_BUCKETS)
        self._config_path = path
        self._factory = predictor_factory
        self._flight_counters = GroupCounters()  # shared by every version's Group
        self._reload_lock = threading.Lock()
        self._state = self._build(spec.url)

    @property
    def dictionary(self) -> Dictionary | None:
        return self._state.dictionary

    @property
    def keys(self) -> KeyBuilder:
        """How the serving version checks rows and builds their cache keys."""
        return self._state.keys

    @property
    def key_fields(self) -> tuple[str, ...]:
        return self._state.keys.key_fields

    @property
    def url(self) -> Path:
        """Where the serving version was loaded from."""
        return self._state.url

    @property
    def fields(self) -> list[FieldSpec]:
        """Every field a row may carry: model inputs, then auxiliary and key-only ones."""
        return list(self._state.keys.fields.values())

    @property
    def input_dtypes(self) -> dict[str, str]:
        return dict(self._state.predictor.input_dtypes)

    @property
    def output_names(self) -> list[str]:
        return list(self._state.predictor.output_names)

    @property
    def output_dtypes(self) -> dict[str, str]:
        """Output name → dtype name, when the model says (a SavedModel's signature does)."""
        signature = getattr(self._state.predictor, "signature", None)
        outputs = getattr(signature, "outputs", ())
        return {t.name: t.dtype for t in outputs}

    def reload(self, url: str | Path | None = None) -> None:
        """Load, warm and swap in the model again (from ``url`` if given); on failure the old
        one keeps serving. The poller (:mod:`bridge.mly.reload`) calls the two halves itself,
        :meth:`prepare` and :meth:`install`, to check the directory in between."""
        with self._reload_lock:
            self.install(self.prepare(url))

    def prepare(self, url: str | Path | None = None) -> ModelVersion:
        """A new version loaded beside the serving one and warmed with one evaluation."""
        return self._warmed(self._build(Path(url) if url is not None else self._state.url))

    def install(self, state: ModelVersion) -> None:
        """Serve ``state`` from the next call on (one assignment: calls in flight keep theirs),
        then bump the models version (hosts drop answers they kept of the old one)."""
        self._state = state
        models_changed()

    def warm(self) -> None:
        """One evaluation of the serving version (the loader warms every model it loads)."""
        self._warmed(self._state)

    def _warmed(self, state: ModelVersion) -> ModelVersion:
        try:
            warm_up(state.predictor)
        except Exception as exc:
            raise LoadError(f"{self._config_path}: {state.url}: warm-up failed: {exc}") from exc
        return state

    def _build(self, url: Path) -> ModelVersion:
        try:
            predictor = self._factory(url)
        except Exception as exc:
            raise LoadError(f"{self._config_path}.URL: {url}: {exc}") from exc
        fields, key_fields = self._fields(predictor)
        dictionary: Dictionary | None = None
        if self.store is not None:
            needs_vocab = [f.name for f in fields if needs_vocabulary(f, key_fields)]
            kinds = {f.name: f.kind for f in fields}
            for name in needs_vocab:
                if kinds[name] == "float":
                    raise ConfigError(
                        f"{self._config_path}.Inputs",
                        f"float input {name!r} needs a Precision (or Wildcard) to be keyed",
                    )
            try:
                dictionary = load_dictionary(url, needs_vocab)
            except Exception as exc:
                raise LoadError(f"{self._config_path}: {url}: dictionary: {exc}") from exc
            missing = [n for n in needs_vocab if dictionary.layer(n) is None]
            if missing:
                raise ConfigError(
                    f"{self._config_path}.Inputs",
                    f"no lookup layer in the model for {missing}; mark them Wildcard "
                    "(raw value in the key) or leave them out of KeyFields",
                )
            fields = [
                dataclasses.replace(f, layer=dictionary.layer(f.name))
                if f.name in needs_vocab
                else f
                for f in fields
            ]
        keys = KeyBuilder(fields, key_fields)
        return ModelVersion(
            predictor,
            dictionary,
            keys,
            url,
            Group(counters=self._flight_counters),
            _entry_shape(predictor),
        )

    def _fields(self, predictor: Predictor) -> tuple[list[FieldSpec], list[str]]:
        """Reconcile configured inputs with the signature, as mly's ``reconcileIOFromSignature``."""
        spec = self.spec
        signature = predictor.input_dtypes
        configured = {f.name: f for f in spec.inputs}
        fields: list[FieldSpec] = []
        key_fields = list(spec.key_fields)
        for name in [f.name for f in spec.inputs] + sorted(set(signature) - set(configured)):
            given = configured.get(name)
            model_input = name in signature and not (given is not None and given.auxiliary)
            dtype = (given.data_type if given and given.data_type else "") or signature.get(
                name, "any"
            )
            fields.append(
                make_field(
                    name,
                    dtype,
                    model_input=model_input,
                    key_fields=key_fields,
                    wildcard=given.wildcard if given else False,
                    precision=given.precision if given else 0,
                )
            )
        known = {f.name for f in fields}
        for i, name in enumerate(key_fields):
            if name not in known:  # mly: a key-only field is auxiliary and wildcard
                fields.append(make_field(name, "", model_input=False, key_fields=key_fields))
                known.add(name)
            elif key_fields.index(name) != i:
                raise ConfigError(f"{self._config_path}.KeyFields[{i}]", f"{name!r} given twice")
        if not key_fields:
            key_fields = [f.name for f in fields if f.model_input]
        return fields, key_fields

    # -- calls -----------------------------------------------------------------------------

    def eval(self, row: dict[str, Any]) -> dict[str, Any]:
        """One row (field → value) → outputs (output name → value)."""
        state = self._state
        store = self.store
        if store is None or state.dictionary is None:
            return self.process_batch([row])[0]
        # The single-row path of process_batch, unrolled: a memory hit is a few microseconds.
        values, key = state.keys.prepare(row)
        entry = store.get_one(key, state.dictionary.hash, state.shape)
        counters = self.counters
        with counters.lock:
            counters.calls += 1
            counters.rows += 1
        if entry is not None:
            return dict(entry.values)
        columns = {name: [value] for name, value in values.items()}
        fresh = self._resolve_misses(state, store, state.dictionary.hash, columns, {key: 0})
        return dict(fresh[key])

    def process_batch(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Many rows → one output dict per row, in input order."""
        if not isinstance(rows, (list, tuple)):
            raise InputError(f"rows must be a list of dicts, not {type(rows).__name__}")
        state = self._state
        columns, keys = state.keys.prepare_many(rows)
        self.counters.add_many(calls=1, rows=len(rows))
        return self._answer(state, columns, keys)

    def process_many(
        self, batches: list[list[Any]]
    ) -> tuple[list[list[dict[str, Any]] | InputError], list[list[str]] | None, int]:
        """Several callers' batches of rows in one pass (the HTTP server's coalesced requests).

        Each batch is checked on its own: a bad one fails alone (its entry is the
        :class:`InputError`); the rows of the others are looked up and evaluated together, as one
        :meth:`process_batch`. Returns each batch's outputs (or error), each batch's cache keys
        (``None`` when the model has no cache) and the dictionary hash (0 without one).
        """
        state = self._state
        refused: dict[int, InputError] = {}
        try:  # every row at once, column by column; apart only to find the bad batches
            columns, keys = state.keys.prepare_many([row for rows in batches for row in rows])
        except InputError:
            columns, keys, refused = self._prepare_apart(state, batches)
        self.counters.add_many(calls=1, rows=len(keys))
        outputs = self._answer(state, columns, keys)
        cached = self.store is not None and state.dictionary is not None
        results: list[list[dict[str, Any]] | InputError] = []
        per_batch_keys: list[list[str]] = []
        start = 0
        for i, rows in enumerate(batches):
            error = refused.get(i)
            if error is not None:
                results.append(error)
                per_batch_keys.append([])
                continue
            end = start + len(rows)
            results.append(outputs[start:end])
            per_batch_keys.append(keys[start:end])
            start = end
        dict_hash = state.dictionary.hash if state.dictionary is not None else 0
        return results, per_batch_keys if cached else None, dict_hash

    @staticmethod
    def _prepare_apart(
        state: ModelVersion, batches: list[list[Any]]
    ) -> tuple[Columns, list[str], dict[int, InputError]]:
        """:meth:`KeyBuilder.prepare_many` batch by batch: the good ones' columns and keys
        joined, and the error of each bad one by its index."""
        columns: Columns = {}
        keys: list[str] = []
        refused: dict[int, InputError] = {}
        for i, rows in enumerate(batches):
            try:
                more, more_keys = state.keys.prepare_many(rows)
            except InputError as exc:
                refused[i] = exc
                continue
            for name, column in more.items():
                columns.setdefault(name, [ABSENT] * len(keys)).extend(column)
            keys += more_keys
        return columns, keys, refused

    def _answer(self, state: ModelVersion, columns: Columns, keys: list[str]) -> list[Row]:
        """Checked rows (as columns, with their keys) → their outputs in order, through the
        cache."""
        store = self.store
        if store is None or state.dictionary is None:
            return self._evaluate(state, columns, len(keys))
        first: dict[str, int] = {}  # each distinct key's first row
        for i, key in enumerate(keys):
            if key not in first:
                first[key] = i
        unique = list(first)
        found = store.get_many(unique, state.dictionary.hash, state.shape)
        results: dict[str, Row] = {
            k: e.values for k, e in zip(unique, found, strict=True) if e is not None
        }
        if len(results) < len(unique):
            missing = {k: first[k] for k in unique if k not in results}
            dict_hash = state.dictionary.hash
            results.update(self._resolve_misses(state, store, dict_hash, columns, missing))
        return [dict(results[k]) for k in keys]  # copies: stored values are shared

    def _resolve_misses(
        self,
        state: ModelVersion,
        store: TieredStore,
        dict_hash: int,
        columns: Columns,
        missing: dict[str, int],
    ) -> dict[str, Row]:
        """Evaluate the rows of ``missing`` (key → its row in ``columns``) and store them under
        ``dict_hash``, each key once across concurrent callers (:class:`~bridge.cache.Group`)."""

        def evaluate(keys: list[str]) -> list[Row]:
            return self._evaluate(state, columns, len(keys), [missing[k] for k in keys])

        def publish(fresh: Mapping[str, Row]) -> None:
            store.put_many([(k, Entry(dict_hash, v)) for k, v in fresh.items()])

        return state.flights.do(list(missing), evaluate, publish)

    def _evaluate(
        self, state: ModelVersion, columns: Columns, n: int, rows: list[int] | None = None
    ) -> list[Row]:
        """The model's answers for ``rows`` of ``columns`` (all ``n`` when ``None``)."""
        if n == 0:
            return []
        names = state.keys.model_input_names
        if rows is None:
            feeds = {name: columns[name] for name in names}
        else:
            feeds = {name: [columns[name][i] for i in rows] for name in names}
        start = time.perf_counter()
        predicted = state.predictor.predict(feeds)
        self.call_seconds.observe(time.perf_counter() - start)  # ops: model-call latency
        self.call_rows.observe(n)
        self.counters.add_many(evaluations=1, rows_evaluated=n)
        outputs = state.predictor.output_names
        answers = [predicted[name] for name in outputs]
        if any(len(column) != n for column in answers):
            raise ValueError(f"the model answered {[len(c) for c in answers]} rows for {n}")
        if len(outputs) == 1:  # one dict per row only for the answers
            (name,), (column,) = outputs, answers
            return [{name: value} for value in column]
        return [dict(zip(outputs, row, strict=True)) for row in zip(*answers, strict=True)]

    def counter_snapshot(self) -> dict[str, int]:
        """This model's counters, with single-flight's ``deduped`` and ``retried`` rows."""
        flights = self._flight_counters.snapshot()
        return {
            **self.counters.snapshot(),
            "deduped": flights["deduped"],
            "retried": flights["retried"],
        }

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.counter_snapshot()}
        if self.store is not None:
            out["datastore"] = self.store.snapshot()
        if self._state.dictionary is not None:
            out["dict_hash"] = self._state.dictionary.hash
        return out
