"""A TensorFlow SavedModel behind plain Python lists.

:class:`SavedModel` loads a model, describes its serving signature
(inputs and outputs sorted by name, so that every host sees the same order) and predicts a
batch given as ``{input name: [one value per example]}``, answering
``{output name: [one value per example]}`` with plain ``str`` / ``int`` / ``float`` / ``bool``
values, never numpy objects.

Shape ``[None, 1]`` is how Keras exports scalar features (every mly model does it), so such an
input may be given flat (``{"sa": ["a", "b"]}``) and such an output comes back flat, one
scalar per example. Anything else is passed (and returned) as nested lists.

A loaded model is read-only; :meth:`SavedModel.predict` may be called from many threads at
once (TensorFlow runs the graph without the GIL).

The model runs in the calling thread: it is loaded into a graph and a session whose
``inter_op_parallelism_threads`` is -1 (TensorFlow runs every op in the thread that calls it),
and called through one ``Session.make_callable``. A TF2 call (``tf.saved_model.load`` and the
signature's function) hands the graph to TensorFlow's inter-op threads and waits for them: three
thread switches per call, each a wait for a core when the process's other threads (the HTTP
server's goroutines) keep both busy; in the server under load the model's call took ~0.8 ms
where the same call alone takes ~0.1 ms. A SavedModel that the graph loader cannot read is
loaded and called the TF2 way.

A batch longer than ``max_batch`` examples runs through the model in chunks of that size and
is answered as one: memory is bounded by the chunk, not the request (a TF-IDF layer holds a
dense row of its vocabulary size per example: 100,000 reviews at once needed 17 GB).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ start-up chatter off stderr

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context as tf_context


def _stop_thread_spinning() -> bool:
    """Let TensorFlow's thread pools sleep when they have no work instead of spinning.

    Idle pool threads spin looking for work between calls: with a small model that is most of
    their CPU (mly's vectorization model: ~125 µs of CPU per call spinning, ~85 µs not), CPU
    that the Go server's goroutines and other hosts' threads on the same cores need. The
    setting (``ConfigProto.experimental.disable_thread_spinning``) has no public eager API: it
    is put in the eager context's configuration before the context starts, which happens at
    the first model load. A context already started (TensorFlow used before this module was
    imported) is left as it is. Reports whether the setting is in force.
    """
    ctx = tf_context.context()
    if getattr(ctx, "_context_handle", True) is not None or not hasattr(ctx, "_config"):
        return bool(ctx.config.experimental.disable_thread_spinning)
    config = config_pb2.ConfigProto()
    if ctx._config is not None:
        config.CopyFrom(ctx._config)
    config.experimental.disable_thread_spinning = True
    ctx._config = config
    return True


THREADS_SLEEP_WHEN_IDLE = _stop_thread_spinning()

SERVING_DEFAULT = "serving_default"
DEFAULT_MAX_BATCH = 1024
"""Examples per model run. Smaller bounds memory tighter but pays the per-run overhead more
often: 20,000 rows of the small wine-quality model take 17 ms in one run, 38 ms in runs of
1,024 and 167 ms in runs of 128, while 20,000 reviews through the TF-IDF sentiment model peak
at 7 GB in one run and under 1 GB in runs of 1,024."""


class ModelError(Exception):
    """The model cannot be loaded, or a request does not fit its signature."""


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of a signature: name, dtype name (``"string"``, ``"int64"``…)
    and shape (``None`` for an unknown dimension; the first is the batch)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]

    @property
    def is_column(self) -> bool:
        """Shape ``[batch, 1]``: one scalar per example, given and returned flat."""
        return len(self.shape) == 2 and self.shape[1] == 1

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Signature:
    """A serving signature; inputs and outputs are sorted by name."""

    key: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }


def _tensor_info(name: str, spec: tf.TensorSpec) -> TensorInfo:
    shape = tuple(None if d is None else int(d) for d in spec.shape.as_list())
    return TensorInfo(name=name, dtype=spec.dtype.name, shape=shape)


class SavedModel:
    """A loaded SavedModel and one of its signatures (``serving_default`` unless told)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        signature_key: str = SERVING_DEFAULT,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
    ):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.max_batch = max_batch
        self.path = Path(path)
        if not (self.path / "saved_model.pb").is_file():
            raise ModelError(f"{self.path}: not a SavedModel directory (no saved_model.pb)")
        self._session: _CallerThreadSession | None = None
        self._function: Any = None
        self._flat_inputs: tuple[str, ...] | None = None
        try:
            self._session = _CallerThreadSession(self.path, signature_key)
        except ModelError:
            raise
        except Exception:  # not readable as a graph: loaded and called the TF2 way below
            self._session = None
        if self._session is not None:
            self.signature = self._session.signature
            return
        try:
            # Kept as an attribute: the signature's variables live as long as the object.
            self._loaded = tf.saved_model.load(str(self.path))
        except Exception as exc:  # TF raises many types; the caller needs the path and reason
            raise ModelError(f"{self.path}: cannot load SavedModel: {exc}") from exc
        signatures = self._loaded.signatures
        if signature_key not in signatures:
            known = ", ".join(sorted(signatures)) or "none"
            raise ModelError(f"{self.path}: no signature {signature_key!r} (has: {known})")
        self._function = signatures[signature_key]
        _, input_specs = self._function.structured_input_signature
        output_specs = self._function.structured_outputs
        self.signature = Signature(
            key=signature_key,
            inputs=tuple(_tensor_info(n, input_specs[n]) for n in sorted(input_specs)),
            outputs=tuple(_tensor_info(n, output_specs[n]) for n in sorted(output_specs)),
        )
        self._flat_inputs = _flat_inputs(self._function, self.signature)

    def __repr__(self) -> str:
        return f"SavedModel({str(self.path)!r}, inputs={self.signature.input_names})"

    @property
    def runs_in_caller_thread(self) -> bool:
        """Whether a call runs the model in the calling thread (see the module doc)."""
        return self._session is not None

    # The predictor protocol of bridge.mly.service: what serving a model needs to know.

    @property
    def input_dtypes(self) -> dict[str, str]:
        """Input name → dtype name (``"string"``, ``"int64"``…), in signature order."""
        return {t.name: t.dtype for t in self.signature.inputs}

    @property
    def output_names(self) -> list[str]:
        return self.signature.output_names

    def predict(self, inputs: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
        """Run one batch; every input is a list with one entry per example (any number: the
        model sees at most ``max_batch`` at a time)."""
        tensors = self.encode(inputs)
        size = max((int(t.shape[0]) for t in tensors.values() if t.ndim), default=0)
        if size <= self.max_batch:
            return self.decode(self.predict_tensors(tensors))
        answer: dict[str, list[Any]] = {name: [] for name in self.signature.output_names}
        for start in range(0, size, self.max_batch):
            chunk = {name: t[start : start + self.max_batch] for name, t in tensors.items()}
            for name, values in self.decode(self.predict_tensors(chunk)).items():
                answer[name].extend(values)
        return answer

    def encode(self, inputs: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray[Any, Any]]:
        """Check ``inputs`` against the signature and turn them into arrays of its dtypes."""
        if not isinstance(inputs, Mapping):
            raise ModelError(f"inputs must be a dict of lists, not {type(inputs).__name__}")
        expected = set(self.signature.input_names)
        missing = sorted(expected - set(inputs))
        unknown = sorted(set(inputs) - expected)
        if missing or unknown:
            raise ModelError(
                f"{self.path.name}: inputs do not match the signature "
                f"(missing: {missing}, unknown: {unknown}; expected: {sorted(expected)})"
            )
        tensors: dict[str, np.ndarray[Any, Any]] = {}
        batch: int | None = None
        for info in self.signature.inputs:
            tensor = _to_array(info, inputs[info.name])
            size = int(tensor.shape[0]) if tensor.ndim else 0
            if batch is not None and size != batch:
                raise ModelError(
                    f"input {info.name!r} has {size} examples, the others have {batch}"
                )
            batch = size
            tensors[info.name] = tensor
        return tensors

    def predict_tensors(self, tensors: Mapping[str, np.ndarray[Any, Any]]) -> dict[str, Any]:
        """Call the signature on encoded inputs (what :meth:`predict` does after encoding):
        output name → array (or eager tensor)."""
        try:
            if self._session is not None:
                return self._session(tensors)
            function = self._function
            ready = {
                info.name: tf.constant(tensors[info.name], dtype=info.dtype)
                for info in self.signature.inputs
            }
            if self._flat_inputs is not None:  # see _flat_inputs
                flat = [ready[name] for name in self._flat_inputs]
                result: dict[str, Any] = function._call_flat(flat, function.captured_inputs)
            else:
                result = function(**ready)
        except (
            tf.errors.InvalidArgumentError,
            tf.errors.InternalError,
            ValueError,
            TypeError,
        ) as exc:
            self._name_unencodable(tensors)
            raise ModelError(f"{self.path.name}: prediction failed: {_first_line(exc)}") from exc
        return result

    def _name_unencodable(self, tensors: Mapping[str, np.ndarray[Any, Any]]) -> None:
        """A str that is not UTF-8 (a lone surrogate) fails only inside TensorFlow: name it."""
        for info in self.signature.inputs:
            if info.dtype != "string":
                continue
            for value in tensors[info.name].flat:
                if type(value) is str:
                    try:
                        value.encode("utf-8")
                    except UnicodeEncodeError as exc:
                        raise ModelError(f"input {info.name!r}: not string values: {exc}") from None

    def decode(self, outputs: Mapping[str, Any]) -> dict[str, list[Any]]:
        """Output arrays (or eager tensors) as plain Python lists, in signature order."""
        decoded: dict[str, list[Any]] = {}
        for info in self.signature.outputs:
            array = outputs[info.name]
            if not isinstance(array, np.ndarray):
                array = array.numpy()
            if info.is_column and array.ndim == 2:
                array = array[:, 0]
            values = array.tolist()
            if array.dtype.kind in ("O", "S"):
                values = _decode_bytes(values)
            decoded[info.name] = values
        return decoded


def _flat_inputs(function: Any, signature: Signature) -> tuple[str, ...] | None:
    """The signature's input names in the order of its flat call, or ``None`` to call it the
    public way.

    Calling a signature with keyword arguments binds them through TensorFlow's
    structured-signature machinery in Python: about a third of the whole call of a small model
    (~60 of ~180 µs for mly's vectorization model), paid per batch. :meth:`SavedModel.encode`
    has already checked every name, dtype and shape, so the flat call of the same concrete
    function (``ConcreteFunction._call_flat``, what the public call ends in) is all that is
    left. It is private API: a TensorFlow without it, or whose flat inputs are not exactly the
    signature's, gets the public call (tests/test_savedmodel.py compares the two answers).
    """
    if not (hasattr(function, "_call_flat") and hasattr(function, "captured_inputs")):
        return None
    try:
        names = tuple(spec.name for spec in function.function_type.flat_inputs)
    except (AttributeError, TypeError):
        return None
    return names if sorted(names) == signature.input_names else None


class _CallerThreadSession:
    """A SavedModel's signature in a graph and a session that runs every op in the calling
    thread (see the module doc), called through one ``make_callable``. Raises
    :class:`ModelError` for an unknown signature, anything else when the graph loader cannot
    read the model."""

    def __init__(self, path: Path, signature_key: str) -> None:
        config = config_pb2.ConfigProto(inter_op_parallelism_threads=-1)
        config.experimental.disable_thread_spinning = True
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        with self.graph.as_default():
            meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(path))
        # TF2 SavedModels list their init op as a signature too.
        signatures = {k: v for k, v in meta.signature_def.items() if not k.startswith("__")}
        if signature_key not in signatures:
            known = ", ".join(sorted(signatures)) or "none"
            raise ModelError(f"{path}: no signature {signature_key!r} (has: {known})")
        signature = signatures[signature_key]
        inputs, outputs = sorted(signature.inputs), sorted(signature.outputs)
        self.signature = Signature(
            key=signature_key,
            inputs=tuple(_proto_info(n, signature.inputs[n]) for n in inputs),
            outputs=tuple(_proto_info(n, signature.outputs[n]) for n in outputs),
        )
        tensor = self.graph.get_tensor_by_name
        feeds = [tensor(signature.inputs[n].name) for n in inputs]
        fetches = [tensor(signature.outputs[n].name) for n in outputs]
        self._run = self.session.make_callable(fetches, feed_list=feeds)
        self._direct = _direct_run(self.session, feeds, fetches)
        self._inputs, self._outputs = inputs, outputs

    def __call__(self, arrays: Mapping[str, np.ndarray[Any, Any]]) -> dict[str, Any]:
        feeds = [arrays[name] for name in self._inputs]
        results = self._direct(feeds) if self._direct is not None else self._run(*feeds)
        return dict(zip(self._outputs, results, strict=True))


def _direct_run(session: Any, feeds: list[Any], fetches: list[Any]) -> Any:
    """``arrays → output arrays`` through the session's own C call, or ``None``.

    ``make_callable`` with feeds is ``Session.run`` with a feed dict in this TensorFlow:
    per call it maps and checks feeds and fetches in Python (and parses numpy's version),
    about as long as running this small model. The arrays are already of the signature's
    dtypes and shapes (:meth:`SavedModel.encode`), so the call that ``Session.run`` ends in,
    ``_call_tf_sessionrun`` with the feeds' and fetches' ``TF_Output``s, is all that is left.
    Private API: without it the public callable is used (tests compare the answers with the
    TF2 signature's).
    """
    try:
        call = session._call_tf_sessionrun
        session._extend_graph()  # what Session.run does first: the graph is final now
        feed_outputs = [t._as_tf_output() for t in feeds]
        fetch_outputs = [t._as_tf_output() for t in fetches]
    except AttributeError:
        return None

    def run(arrays: list[np.ndarray[Any, Any]]) -> list[np.ndarray[Any, Any]]:
        results: list[np.ndarray[Any, Any]] = call(
            None, dict(zip(feed_outputs, arrays, strict=True)), fetch_outputs, [], None
        )
        return results

    return run


def _proto_info(name: str, info: Any) -> TensorInfo:
    if info.tensor_shape.unknown_rank:
        raise ValueError(f"{name}: unknown rank")  # the TF2 way describes it
    shape = tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)
    return TensorInfo(name=name, dtype=tf.as_dtype(info.dtype).name, shape=shape)


def _to_array(info: TensorInfo, values: Sequence[Any]) -> np.ndarray[Any, Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise ModelError(
            f"input {info.name!r} must be a list with one value per example, "
            f"not {type(values).__name__}"
        )
    try:
        if info.dtype == "string":  # str or bytes: TensorFlow encodes a str as UTF-8
            array = np.array(values, dtype=object)
            _check_strings(array)
        else:
            array = _numeric_array(info, values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelError(f"input {info.name!r}: not {info.dtype} values: {exc}") from None
    if info.is_column and array.ndim == 1:
        array = array.reshape(-1, 1)
    if len(values) == 0:
        array = array.reshape((0, *(d or 0 for d in info.shape[1:])))
    if array.ndim != len(info.shape) or any(
        want is not None and got != want for got, want in zip(array.shape, info.shape, strict=True)
    ):
        raise ModelError(
            f"input {info.name!r}: shape {list(array.shape)} does not fit {list(info.shape)}"
        )
    return array


def _check_strings(array: np.ndarray[Any, Any]) -> None:
    for value in array.flat:
        if type(value) is not str and type(value) is not bytes:
            if isinstance(value, (str, bytes)):
                continue
            raise TypeError(f"expected a string, got {type(value).__name__} {value!r:.40}")


def _numeric_array(info: TensorInfo, values: Sequence[Any]) -> np.ndarray[Any, Any]:
    target = np.dtype(tf.as_dtype(info.dtype).as_numpy_dtype)
    raw = np.asarray(values)
    # numpy would silently truncate 1.5 to 1 or parse "7"; a request like that is a mistake.
    allowed = "iub" if target.kind in "iu" else "iubf" if target.kind == "f" else None
    if allowed is not None and raw.size and raw.dtype.kind not in allowed:
        raise TypeError(f"got {raw.dtype.name} values")
    if target.kind in "iu" and raw.size and raw.dtype.kind in "iu":
        limits = np.iinfo(target)
        if raw.min() < limits.min or raw.max() > limits.max:
            raise OverflowError(f"a value is outside {target.name} [{limits.min}, {limits.max}]")
    return raw.astype(target, casting="unsafe") if raw.dtype != target else raw


def _decode_bytes(values: Any) -> Any:
    if isinstance(values, bytes):
        return values.decode("utf-8", errors="replace")
    if isinstance(values, list):
        return [_decode_bytes(v) for v in values]
    return values


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load(path: str | os.PathLike[str], signature_key: str = SERVING_DEFAULT) -> SavedModel:
    """Load the SavedModel at ``path``."""
    return SavedModel(path, signature_key)
