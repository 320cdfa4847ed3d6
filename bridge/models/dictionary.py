"""Model dictionaries: the vocabulary of each lookup layer, and the hash that names them.

A cache key is only as good as the vocabulary that normalised it, so every stored prediction
carries the hash of the dictionary it was computed under (see :mod:`bridge.cache`).

Vocabularies are read from the SavedModel itself, two ways:

* **mly's way** (TF 2.x SavedModels with a TF1-style graph, like mly's fixtures): the meta graph
  holds ``LookupTableExportV2`` ops named ``<input>_…``; running one returns the table's keys.
* **Keras 3** (``model.export``): there are no export ops. The serving function's graph calls
  ``LookupTableFindV2`` on a captured table resource, inside a node named after the layer
  (``functional/<input>_lookup/…``); we follow the capture back to the live table and export it.

The hash is mly's: FNV-1 64 over each layer's sorted vocabulary (strings concatenated, UTF-8),
summed over layers with 64-bit wrap-around. It fixes mly's int layers, whose hash is a constant
(``binary.Write`` of a Go ``int`` writes nothing): here each int is 8 bytes little-endian. A model
with no vocabulary hashes its files' contents (mly uses their mtimes, so an unchanged model that
is copied gets a new hash and a retrained one in the same second keeps the old).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FNV64_OFFSET = 0xCBF29CE484222325
FNV64_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


class DictionaryError(Exception):
    """A vocabulary that the configuration needs cannot be read from the model."""


def fnv1_64(data: bytes, state: int = FNV64_OFFSET) -> int:
    """FNV-1 (multiply, then xor), 64-bit, as Go's ``hash/fnv.New64``."""
    h = state
    for byte in data:
        h = ((h * FNV64_PRIME) & _MASK64) ^ byte
    return h


def _signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class Layer:
    """The vocabulary of one input: strings or ints, sorted (exactly one of them is used)."""

    name: str
    strings: tuple[str, ...] = ()
    ints: tuple[int, ...] = ()

    @property
    def is_int(self) -> bool:
        return bool(self.ints) and not self.strings

    def hash(self) -> int:
        h = FNV64_OFFSET
        if self.is_int:
            for value in self.ints:
                h = fnv1_64(value.to_bytes(8, "little", signed=True), h)
        else:
            for text in self.strings:
                h = fnv1_64(text.encode("utf-8"), h)
        return _signed64(h)


@dataclass(frozen=True)
class Dictionary:
    """Every vocabulary of a model plus the combined hash (mly's ``common.Dictionary``)."""

    layers: tuple[Layer, ...]
    hash: int

    def layer(self, name: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """mly's ``/meta/dictionary`` shape."""
        return {
            "Layers": [
                {
                    "Name": layer.name,
                    "Strings": list(layer.strings) if not layer.is_int else None,
                    "Ints": list(layer.ints) if layer.is_int else None,
                    "Hash": layer.hash(),
                }
                for layer in self.layers
            ],
            "Hash": self.hash,
        }


def dictionary_from_json(document: Any) -> Dictionary | None:
    """mly's ``/meta/dictionary`` JSON → a :class:`Dictionary` (``null`` → ``None``).

    The hash is taken as served, not recomputed: it names the server's dictionary, and mly's
    own int-layer hash differs from ours (see the module docstring).
    """
    if document is None:
        return None
    if not isinstance(document, dict):
        raise DictionaryError(f"a dictionary must be an object, got {type(document).__name__}")
    dict_hash = document.get("Hash", 0)
    layers_json = document.get("Layers") or []
    if not isinstance(dict_hash, int) or isinstance(dict_hash, bool):
        raise DictionaryError(f"Hash: expected an integer, got {dict_hash!r:.40}")
    if not isinstance(layers_json, list):
        raise DictionaryError("Layers: expected a list")
    layers = []
    for i, item in enumerate(layers_json):
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise DictionaryError(f"Layers[{i}]: expected an object with a Name")
        strings, ints = item.get("Strings") or [], item.get("Ints") or []
        if not isinstance(strings, list) or not all(isinstance(v, str) for v in strings):
            raise DictionaryError(f"Layers[{i}].Strings: expected a list of strings")
        if not isinstance(ints, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in ints
        ):
            raise DictionaryError(f"Layers[{i}].Ints: expected a list of integers")
        layers.append(Layer(item["Name"], strings=tuple(strings), ints=tuple(ints)))
    return Dictionary(tuple(layers), dict_hash)


def make_layer(name: str, keys: Iterable[Any]) -> Layer:
    """A layer from raw table keys (bytes/str or ints), sorted as Go sorts them (by bytes)."""
    values = list(keys)
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return Layer(name, ints=tuple(sorted(set(values))))
    texts = {v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values}
    return Layer(name, strings=tuple(sorted(texts, key=lambda t: t.encode("utf-8"))))


def combine(layers: Sequence[Layer]) -> int:
    """mly's dictionary hash: the layer hashes summed with int64 wrap-around."""
    return _signed64(sum(layer.hash() for layer in layers))


def files_hash(model_dir: Path) -> int:
    """FNV-1 64 over the model's files (relative path, then contents), in path order."""
    h = FNV64_OFFSET
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        h = fnv1_64(path.relative_to(model_dir).as_posix().encode("utf-8"), h)
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h = fnv1_64(chunk, h)
    return _signed64(h)


def build_dictionary(model_dir: Path, layers: Sequence[Layer]) -> Dictionary:
    if layers:
        return Dictionary(tuple(layers), combine(layers))
    return Dictionary((), files_hash(model_dir))


def read_vocabularies(model_dir: str | os.PathLike[str], names: Sequence[str]) -> dict[str, Layer]:
    """The vocabulary of each input in ``names`` that has a lookup layer (mly's, then Keras 3's).

    Inputs without a lookup layer are simply absent from the answer; the caller decides
    whether that is an error (mly: it is, unless the input is a wildcard or has a precision).
    """
    path = Path(model_dir)
    if not names:
        return {}
    found = _export_ops_vocabularies(path, names)
    rest = [n for n in names if n not in found]
    if rest:
        found.update(_keras3_vocabularies(path, rest))
    return found


def load_dictionary(model_dir: str | os.PathLike[str], names: Sequence[str]) -> Dictionary:
    """The model's dictionary over ``names`` (its hash covers the layers found)."""
    found = read_vocabularies(model_dir, names)
    return build_dictionary(Path(model_dir), [found[n] for n in names if n in found])


# -- mly: LookupTableExportV2 ops in the meta graph ------------------------------------------


def _layer_prefix_match(component: str, name: str) -> bool:
    return component.startswith(f"{name}_")


def _export_ops_vocabularies(path: Path, names: Sequence[str]) -> dict[str, Layer]:
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel()
    try:
        model.ParseFromString((path / "saved_model.pb").read_bytes())
    except (OSError, ValueError) as exc:
        raise DictionaryError(f"{path}: cannot read saved_model.pb: {exc}") from exc
    if not model.meta_graphs:
        return {}
    meta = model.meta_graphs[0]
    ops = [n.name for n in meta.graph_def.node if n.op == "LookupTableExportV2"]
    wanted = {name: op for name in names for op in ops if _layer_prefix_match(op, name)}
    if not wanted:
        return {}
    graph = tf.Graph()
    tags = list(meta.meta_info_def.tags) or ["serve"]
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        tf.compat.v1.saved_model.loader.load(session, tags, str(path))
        out = {}
        for name, op_name in wanted.items():
            keys = session.run(graph.get_operation_by_name(op_name).outputs[0])
            out[name] = make_layer(name, keys.tolist())
    return out


# -- Keras 3: LookupTableFindV2 on a captured table -------------------------------------------


def _keras3_vocabularies(path: Path, names: Sequence[str]) -> dict[str, Layer]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        return {}
    graph = signature.graph
    library = {f.signature.name: f for f in graph.as_graph_def().library.function}
    captures = {t.name.split(":")[0]: i for i, t in enumerate(graph.internal_captures)}
    handles = signature.captured_inputs
    out: dict[str, Layer] = {}
    for op in graph.get_operations():
        function_name = _called_function(op.node_def)
        if function_name is None:
            continue
        # Argument i of the called function is the op's input i: a capture or not.
        sources = [captures.get(t.name.split(":")[0]) for t in op.inputs]
        for node_name, key_dtype, capture in _find_ops(library, function_name, sources, 0):
            # ".../<layer>/<table scope>/LookupTableFindV2": the layer that owns the table must be
            # named after the input. A TextVectorization's inner lookup ("tv_vectorization/
            # string_lookup_1/…") is not: its vocabulary is of tokens, not of input values.
            components = node_name.split("/")
            layer_scope = components[-3] if len(components) >= 3 else ""
            for name in names:
                if name in out or capture is None:
                    continue
                if _layer_prefix_match(layer_scope, name):
                    keys, _ = tf.raw_ops.LookupTableExportV2(
                        table_handle=handles[capture], Tkeys=key_dtype, Tvalues=tf.int64
                    )
                    out[name] = make_layer(name, keys.numpy().tolist())
    return out


def _called_function(node: Any) -> str | None:
    if node.op in ("StatefulPartitionedCall", "PartitionedCall") and "f" in node.attr:
        name: str = node.attr["f"].func.name
        return name
    return None


def _find_ops(
    library: dict[str, Any], function_name: str, sources: list[int | None], depth: int
) -> list[tuple[str, Any, int | None]]:
    """``(node name, key dtype, capture index)`` of every table lookup reachable in a call."""
    function = library.get(function_name)
    if function is None or depth > 8:
        return []
    args = {
        arg.name: sources[i] if i < len(sources) else None
        for i, arg in enumerate(function.signature.input_arg)
    }
    found: list[tuple[str, Any, int | None]] = []
    for node in function.node_def:
        if node.op == "LookupTableFindV2":
            handle = node.input[0].split(":")[0]
            found.append((node.name, node.attr["Tin"].type, args.get(handle)))
        inner = _called_function(node)
        if inner is not None:
            inner_sources = [args.get(i.split(":")[0]) for i in node.input if not i.startswith("^")]
            found.extend(_find_ops(library, inner, inner_sources, depth + 1))
    return found
