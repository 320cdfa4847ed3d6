"""python_scripts/wine_sentiment.py on real reviews, called through a runtime."""

from __future__ import annotations

import ast
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bridge
from bridge.data import read_reviews
from bridge.runtime import Runtime

Call = Callable[..., Any]


@pytest.fixture
def call(sentiment_runtime: Runtime) -> Call:
    """``call(name, *args)``: the script's function through the runtime's call path."""
    return sentiment_runtime.call


@pytest.fixture(scope="module")
def reviews(wine_csv: Path) -> list[tuple[str, int]]:
    return [(r.description, r.points) for r in read_reviews(wine_csv, limit=2000)]


def test_script_does_not_import_bridge(sentiment_script: types.ModuleType) -> None:
    tree = ast.parse(Path(sentiment_script.__file__ or "").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert "bridge" not in imported


def test_exports_process_batch_and_eval(
    sentiment_runtime: Runtime, sentiment_script: types.ModuleType
) -> None:
    assert {"process_batch", "eval"} <= set(sentiment_runtime.names())
    assert sentiment_runtime.function("process_batch").callable is sentiment_script.process_batch


def test_labels_agree_with_points_on_clear_reviews(
    call: Call, reviews: list[tuple[str, int]]
) -> None:
    clear = [(text, points) for text, points in reviews if points >= 93 or points <= 83]
    assert len(clear) > 150
    results = call("process_batch", [text for text, _ in clear])
    expected = ["POSITIVE" if points >= 93 else "NEGATIVE" for _, points in clear]
    agree = sum(r["label"] == e for r, e in zip(results, expected, strict=True))
    assert agree / len(clear) >= 0.95


def test_results_are_plain_and_scores_are_confidences(
    call: Call, reviews: list[tuple[str, int]]
) -> None:
    results = call("process_batch", [text for text, _ in reviews[:200]])
    assert len(results) == 200
    labels = set()
    for result in results:
        assert type(result) is dict and set(result) == {"label", "score"}
        assert type(result["label"]) is str and type(result["score"]) is float
        assert 0.5 <= result["score"] <= 1.0
        labels.add(result["label"])
    assert labels == {"POSITIVE", "NEGATIVE"}


def test_order_is_kept(call: Call, reviews: list[tuple[str, int]]) -> None:
    texts = [text for text, _ in reviews[:64]]
    forward = call("process_batch", texts)
    backward = call("process_batch", texts[::-1])
    assert [r["label"] for r in backward[::-1]] == [r["label"] for r in forward]
    assert [r["score"] for r in backward[::-1]] == pytest.approx([r["score"] for r in forward])


def test_eval_is_process_batch_of_one(call: Call, reviews: list[tuple[str, int]]) -> None:
    texts = [text for text, _ in reviews[:8]]
    batch = call("process_batch", texts)
    for text, expected in zip(texts, batch, strict=True):
        single = call("eval", text)
        assert single["label"] == expected["label"]
        assert single["score"] == pytest.approx(expected["score"], abs=1e-5)


def test_empty_list_gives_empty_list(call: Call) -> None:
    assert call("process_batch", []) == []


@pytest.mark.parametrize(
    ("args", "type_name", "message"),
    [
        ((None,), "TypeError", "list of strings, got None"),
        (("just one string",), "TypeError", "list of strings, got str"),
        ((["fine", 42],), "TypeError", r"texts\[1\] is int, expected str"),
        ((["fine", None],), "TypeError", r"texts\[1\] is NoneType"),
        ((["bad \udc80 surrogate"],), "ValueError", "not valid Unicode"),
    ],
)
def test_bad_input_is_a_clear_error(
    call: Call, args: tuple[object, ...], type_name: str, message: str
) -> None:
    with pytest.raises(bridge.CallError, match=message) as err:
        call("process_batch", *args)
    assert err.value.type_name == type_name
    assert "tensorflow" not in err.value.message.lower()
    # the runtime and the model keep working after the error
    assert call("eval", "Juicy and bright.")["label"] in ("POSITIVE", "NEGATIVE")


def test_eval_rejects_non_string(call: Call) -> None:
    with pytest.raises(bridge.CallError, match="eval expects a string, got list"):
        call("eval", ["a list"])


def test_sixteen_threads_give_the_sequential_results(
    call: Call, reviews: list[tuple[str, int]]
) -> None:
    chunks = [[text for text, _ in reviews[i * 25 : (i + 1) * 25]] for i in range(16)]
    sequential = [call("process_batch", chunk) for chunk in chunks]
    concurrent: list[object] = [None] * 16
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def work(i: int) -> None:
        try:
            start.wait()
            for _ in range(3):
                concurrent[i] = call("process_batch", chunks[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert concurrent == sequential


def test_missing_model_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sentiment_script: types.ModuleType
) -> None:
    monkeypatch.setenv("MLBRIDGE_MODEL_DIR", str(tmp_path / "no-model"))
    with pytest.raises(bridge.LoadError, match="run `mlbridge train sentiment`"):
        Runtime().load_from_file("py", [sentiment_script.__file__ or ""])
