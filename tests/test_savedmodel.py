"""bridge.models.SavedModel: signatures and predict, on our model and on mly's fixture models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.models import ModelError, SavedModel

MLY_MODELS = (
    "float_input_float_model",
    "keyed_out_model",
    "slow_model",
    "string_lookups_float_model",
    "string_lookups_int_model",
    "vectorization_int_model",
)


@pytest.fixture(scope="module")
def mly(mly_models: Path) -> dict[str, SavedModel]:
    return {name: SavedModel(mly_models / name) for name in MLY_MODELS}


@pytest.fixture(scope="module")
def ours(sentiment_model: Path) -> SavedModel:
    return SavedModel(sentiment_model)


def plain(value: Any) -> bool:
    """Only Python's own types, all the way down."""
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return type(value) in (str, int, float, bool)


# -- our sentiment model ---------------------------------------------------------------------


def test_our_signature(ours: SavedModel) -> None:
    assert ours.signature.to_dict() == {
        "key": "serving_default",
        "inputs": [{"name": "text", "dtype": "string", "shape": [None]}],
        "outputs": [{"name": "positive", "dtype": "float32", "shape": [None, 1]}],
    }


def test_our_predict_gives_one_probability_per_text(ours: SavedModel) -> None:
    texts = [
        "Thin, sour and dilute, with a bitter, short finish.",
        "Gorgeous and profound, layered with black cherry, cassis and graphite; a long, "
        "complex, age-worthy wine with superb structure. Drink 2020-2035.",
        "",
    ]
    out = ours.predict({"text": texts})
    assert list(out) == ["positive"]
    assert len(out["positive"]) == 3 and plain(out["positive"])
    assert all(0.0 <= p <= 1.0 for p in out["positive"])
    assert out["positive"][0] < 0.5 < out["positive"][1]
    # bytes are accepted as strings, and give the same answer
    again = ours.predict({"text": [t.encode() for t in texts]})
    assert again["positive"] == pytest.approx(out["positive"])


def test_our_predict_on_empty_batch(ours: SavedModel) -> None:
    assert ours.predict({"text": []}) == {"positive": []}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, r"missing: \['text'\]"),
        ({"text": ["x"], "extra": ["y"]}, r"unknown: \['extra'\]"),
        ({"text": "one string"}, "must be a list"),
        ({"text": None}, "must be a list"),
        ({"text": ["ok", 3]}, "expected a string, got int"),
    ],
)
def test_bad_inputs_are_model_errors(
    ours: SavedModel, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        ours.predict(inputs)


def test_not_a_savedmodel_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a SavedModel directory"):
        SavedModel(tmp_path)


def test_unknown_signature_key(sentiment_model: Path) -> None:
    with pytest.raises(ModelError, match=r"no signature 'classify' \(has: serving_default"):
        SavedModel(sentiment_model, "classify")


# -- mly's fixture models --------------------------------------------------------------------


def test_mly_string_lookups_int_model(mly: dict[str, SavedModel]) -> None:
    model = mly["string_lookups_int_model"]
    assert model.signature.to_dict()["inputs"] == [
        {"name": "sa", "dtype": "string", "shape": [None, 1]},
        {"name": "sl", "dtype": "string", "shape": [None, 1]},
    ]
    assert model.signature.to_dict()["outputs"] == [
        {"name": "expand", "dtype": "int64", "shape": [None, 1]}
    ]
    assert model.predict({"sa": ["a"], "sl": ["a"]}) == {"expand": [25]}
    # flat or [None, 1]-shaped lists: the same batch
    assert model.predict({"sa": ["a", "zz"], "sl": ["a", "a"]}) == {"expand": [25, 10]}
    assert model.predict({"sa": [["a"], ["zz"]], "sl": [["a"], ["a"]]}) == {"expand": [25, 10]}
    assert type(model.predict({"sa": ["a"], "sl": ["a"]})["expand"][0]) is int


def test_mly_vectorization_int_model(mly: dict[str, SavedModel]) -> None:
    assert mly["vectorization_int_model"].predict({"tv": ["a b c"], "sl": ["a"]}) == {
        "expand": [360]
    }


def test_mly_keyed_out_model_outputs_are_sorted_and_plain(mly: dict[str, SavedModel]) -> None:
    model = mly["keyed_out_model"]
    assert model.signature.input_names == ["i"]
    assert model.signature.output_names == ["i0_copy", "i1_copy"]
    out = model.predict({"i": [3, 7]})
    assert list(out) == ["i0_copy", "i1_copy"]
    assert all(plain(v) and len(v) == 2 for v in out.values())


def test_mly_float_input(mly: dict[str, SavedModel]) -> None:
    model = mly["float_input_float_model"]
    assert [(t.name, t.dtype) for t in model.signature.inputs] == [
        ("fl", "float32"),
        ("sl", "string"),
    ]
    out = model.predict({"fl": [1.00054, 2], "sl": ["a", "b"]})["expand"]
    assert len(out) == 2 and all(type(v) is float for v in out)


@pytest.mark.parametrize(
    ("model", "inputs", "message"),
    [
        ("keyed_out_model", {"i": [2**40]}, "outside int32"),
        ("keyed_out_model", {"i": [1.5]}, "not int32 values"),
        ("keyed_out_model", {"i": ["7"]}, "not int32 values"),
        ("slow_model", {"x": [1.0], "y": ["a"]}, "not float32 values"),
        ("string_lookups_int_model", {"sa": ["a"], "sl": ["a", "b"]}, "has 2 examples"),
        ("string_lookups_int_model", {"sa": [["a", "b"]], "sl": [["a", "b"]]}, "does not fit"),
    ],
)
def test_mly_bad_inputs(
    mly: dict[str, SavedModel], model: str, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        mly[model].predict(inputs)


def sample_value(dtype: str) -> Any:
    return {"string": "a", "float32": 0.5}.get(dtype, 1)


@pytest.mark.parametrize("name", MLY_MODELS)
def test_every_mly_model_predicts_a_batch(mly: dict[str, SavedModel], name: str) -> None:
    model = mly[name]
    names = model.signature.input_names
    assert names == sorted(names) and model.signature.output_names == sorted(
        model.signature.output_names
    )
    batch = {t.name: [sample_value(t.dtype)] * 3 for t in model.signature.inputs}
    out = model.predict(batch)
    assert list(out) == model.signature.output_names
    for values in out.values():
        assert len(values) == 3 and plain(values)


@pytest.mark.parametrize("name", MLY_MODELS)
def test_the_caller_thread_session_answers_as_the_eager_signature(
    mly: dict[str, SavedModel], mly_models: Path, name: str
) -> None:
    import tensorflow as tf

    model = mly[name]
    assert model.runs_in_caller_thread, "the graph loader could not read it: calls hop threads"
    arrays = model.encode({t.name: [sample_value(t.dtype)] * 3 for t in model.signature.inputs})
    eager = tf.saved_model.load(str(mly_models / name)).signatures["serving_default"]
    tensors = {n: tf.constant(a, dtype=model.input_dtypes[n]) for n, a in arrays.items()}
    assert model.decode(model.predict_tensors(arrays)) == model.decode(eager(**tensors))


def test_our_model_runs_in_the_caller_thread(ours: SavedModel) -> None:
    assert ours.runs_in_caller_thread


def test_tensorflow_threads_sleep_when_idle(mly_models: Path) -> None:
    # In a process of its own: another test may have started TensorFlow before this module.
    script = (
        "import sys\n"
        "from bridge.models import savedmodel\n"
        "from tensorflow.python.eager import context\n"
        "savedmodel.SavedModel(sys.argv[1]).predict({'tv': ['a b'], 'sl': ['a']})\n"
        "print(savedmodel.THREADS_SLEEP_WHEN_IDLE,"
        " context.context().config.experimental.disable_thread_spinning)\n"
    )
    model = str(mly_models / "vectorization_int_model")
    out = subprocess.run(
        [sys.executable, "-c", script, model], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True"]
