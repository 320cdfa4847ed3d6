"""Hot reload: the settle rule, the content check, failures that keep the old version serving.

These tests drive :meth:`Reloader.poll` by hand on a stand-in model (a directory whose
``model.txt`` holds the number it adds), so every step of the rule is checked without timing.
The TensorFlow and under-load tests are in ``test_mly_reload_load.py``.
"""

from __future__ import annotations

import gc
import os
import shutil
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import versions
from bridge.config import ConfigError, Field, Model, parse_config
from bridge.errors import LoadError
from bridge.mly import MlyLoader
from bridge.mly.reload import Reloader, scan, warm_up_inputs
from bridge.mly.service import ModelService
from bridge.models.savedmodel import Signature, TensorInfo
from bridge.runtime import Runtime
from support.mly import write_config


class AddModel:
    """``y = x + N`` where ``model.txt`` reads ``N END``; ``nowarm`` answers nothing."""

    def __init__(self, path: Path) -> None:
        text = (path / "model.txt").read_text()
        if not text.endswith("END"):
            raise ValueError(f"{path}: model.txt is incomplete")
        self.word = text.split()[0]
        self.add = 0 if self.word == "nowarm" else int(self.word)
        self.input_dtypes = {"x": "int64"}
        self.output_names = ["y"]

    def predict(self, inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if self.word == "nowarm":
            raise RuntimeError("this version cannot evaluate")
        return {"y": [x + self.add for x in inputs["x"]]}


def write_model(path: Path, word: str, *, extra: bytes = b"weights") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "variables.bin").write_bytes(extra)
    (path / "model.txt").write_text(f"{word} END")
    return path


def replace_by_rename(url: Path, word: str) -> None:
    """What a deploy script does: write beside, then swap the directory with renames."""
    staged = write_model(url.with_name(url.name + ".new"), word)
    old = url.with_name(url.name + ".old")
    url.rename(old)
    staged.rename(url)
    shutil.rmtree(old)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ModelService, Reloader]]:
    url = write_model(tmp_path / "model", "1")
    spec = Model(id="add", url=url, inputs=(Field("x", wildcard=True),))
    service = ModelService(spec, None, predictor_factory=AddModel)
    reloader = Reloader()
    reloader.watch(service, 3_600_000)  # the thread never polls by itself in these tests
    yield service, reloader
    reloader.close()


def test_a_renamed_directory_is_loaded_at_the_second_poll_that_sees_it(
    served: tuple[ModelService, Reloader],
) -> None:
    service, reloader = served
    assert reloader.poll("add") == "unchanged"
    replace_by_rename(service.url, "100")
    assert reloader.poll("add") == "settling"
    assert service.eval({"x": 1}) == {"y": 2}  # not yet: it might still be changing
    assert reloader.poll("add") == "reloaded"
    assert service.eval({"x": 1}) == {"y": 101}
    status = reloader.status()["add"]
    assert (status["ok"], status["reloads"], status["failures"]) == (1, 1, 0)
    assert reloader.poll("add") == "unchanged"


def test_each_swap_and_only_a_swap_tells_the_models_version_listener(
    served: tuple[ModelService, Reloader],
) -> None:
    """A host keeping answers (the HTTP server's memo) learns of a swap after it is in place."""
    service, reloader = served
    seen: list[dict[str, Any]] = []
    previous = versions._listener
    versions.on_models_changed(lambda: seen.append(service.eval({"x": 1})))
    try:
        replace_by_rename(service.url, "100")
        assert reloader.poll("add") == "settling"
        assert seen == []
        assert reloader.poll("add") == "reloaded"
        assert seen == [{"y": 101}]  # called once, with the new version already serving
        replace_by_rename(service.url, "nowarm")  # fails to warm: nothing swapped, no call
        reloader.poll("add")
        reloader.poll("add")
        assert seen == [{"y": 101}]
    finally:
        versions.on_models_changed(previous)


def test_a_swapped_out_version_is_collected_in_a_process_that_froze_its_objects(
    tmp_path: Path,
) -> None:
    """The mly server freezes what it loaded (gc.freeze); a reload must not keep the old
    model alive for ever through its reference cycles."""
    made: list[weakref.ref[AddModel]] = []

    def factory(path: Path) -> AddModel:
        model = AddModel(path)
        model.cycle = model  # type: ignore[attr-defined]  # as TensorFlow's objects have
        made.append(weakref.ref(model))
        return model

    url = write_model(tmp_path / "model", "1")
    spec = Model(id="add", url=url, inputs=(Field("x", wildcard=True),))
    service = ModelService(spec, None, predictor_factory=factory)
    reloader = Reloader()
    reloader.watch(service, 3_600_000)
    gc.collect()
    gc.freeze()
    try:
        replace_by_rename(service.url, "100")
        assert reloader.poll("add") == "settling"
        assert reloader.poll("add") == "reloaded"
        assert service.eval({"x": 1}) == {"y": 101}
        gc.collect()
        assert made[0]() is None, "the first version is still alive after the swap"
    finally:
        reloader.close()
        gc.unfreeze()


def test_a_directory_being_copied_into_waits_until_a_poll_finds_it_unchanged(
    served: tuple[ModelService, Reloader],
) -> None:
    service, reloader = served
    url = service.url
    (url / "model.txt").unlink()  # the copy starts: old files removed, new ones arrive
    assert reloader.poll("add") == "settling"
    (url / "model.txt").write_text("7")  # half-written: a load now would fail
    assert reloader.poll("add") == "settling"
    with (url / "model.txt").open("a") as fh:
        fh.write(" END")
    assert reloader.poll("add") == "settling"
    assert reloader.poll("add") == "reloaded"
    assert service.eval({"x": 1}) == {"y": 8}
    assert reloader.status()["add"]["failures"] == 0  # never tried half-written


def test_a_copy_with_new_mtimes_but_the_same_bytes_is_not_a_reload(
    served: tuple[ModelService, Reloader], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, reloader = served
    calls: list[Any] = []
    monkeypatch.setattr(service, "prepare", calls.append)  # a reload would call it
    later = time.time() + 10
    for path in service.url.iterdir():
        os.utime(path, (later, later))
    assert reloader.poll("add") == "settling"
    assert reloader.poll("add") == "same-content"
    assert calls == []
    assert reloader.status()["add"]["unchanged"] == 1
    assert reloader.poll("add") == "unchanged"  # the new mtimes are the serving tree now


@pytest.mark.parametrize(
    ("word", "error"),
    [("broken", "invalid literal"), ("nowarm", "warm-up failed: this version cannot evaluate")],
)
def test_a_version_that_fails_to_load_or_warm_keeps_the_old_one_and_is_retried(
    served: tuple[ModelService, Reloader], word: str, error: str
) -> None:
    service, reloader = served
    replace_by_rename(service.url, word)
    assert reloader.poll("add") == "settling"
    assert reloader.poll("add") == "failed"
    assert service.eval({"x": 1}) == {"y": 2}
    assert reloader.health() == {"add": 0}
    status = reloader.status()["add"]
    assert status["failures"] == 1 and error in status["last_error"]
    assert reloader.poll("add") == "failed"  # retried at the next poll, not given up
    assert reloader.status()["add"]["failures"] == 2
    replace_by_rename(service.url, "5")  # fixed: settles, loads, health recovers
    assert reloader.poll("add") == "settling"
    assert reloader.poll("add") == "reloaded"
    assert service.eval({"x": 1}) == {"y": 6}
    assert reloader.health() == {"add": 1}
    assert reloader.status()["add"]["last_error"] == ""


def test_a_removed_directory_keeps_the_model_serving(
    served: tuple[ModelService, Reloader],
) -> None:
    service, reloader = served
    shutil.rmtree(service.url)
    assert reloader.poll("add") == "missing"
    assert service.eval({"x": 2}) == {"y": 3}
    assert reloader.health() == {"add": 1}
    assert reloader.status()["add"]["missing"] is True


def test_a_directory_changed_while_loading_is_not_swapped_in(
    served: tuple[ModelService, Reloader], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, reloader = served
    url = service.url
    replace_by_rename(url, "10")
    assert reloader.poll("add") == "settling"
    prepare = service.prepare

    def prepare_then_change(u: Any = None) -> Any:
        version = prepare(u)
        (url / "variables.bin").write_bytes(b"a newer copy arrives")
        return version

    monkeypatch.setattr(service, "prepare", prepare_then_change)
    assert reloader.poll("add") == "settling"
    assert service.eval({"x": 0}) == {"y": 1}
    assert reloader.status()["add"]["discarded"] == 1
    monkeypatch.undo()
    assert reloader.poll("add") == "settling"
    assert reloader.poll("add") == "reloaded"
    assert service.eval({"x": 0}) == {"y": 10}


def test_the_thread_polls_at_the_interval_and_calls_never_fail_across_swaps(
    tmp_path: Path,
) -> None:
    url = write_model(tmp_path / "model", "1")
    spec = Model(id="add", url=url, inputs=(Field("x", wildcard=True),))
    service = ModelService(spec, None, predictor_factory=AddModel)
    reloader = Reloader()
    interval_s = 0.05
    reloader.watch(service, int(interval_s * 1000))
    failures: list[BaseException] = []
    answers: set[int] = set()
    stop = threading.Event()

    def caller() -> None:
        while not stop.is_set():
            try:
                answers.add(service.eval({"x": 0})["y"])
            except BaseException as exc:  # any failure is what we count
                failures.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for version in range(2, 6):
            replace_by_rename(url, str(version))
            deadline = time.monotonic() + 5
            while service.eval({"x": 0})["y"] != version and time.monotonic() < deadline:
                time.sleep(0.005)
            assert service.eval({"x": 0})["y"] == version
    finally:
        stop.set()
        for t in threads:
            t.join()
        reloader.close()
    assert failures == []
    assert answers <= {1, 2, 3, 4, 5}
    assert reloader.status() == {}  # closed: forgets its models


def test_warm_up_inputs_follow_the_signature_shapes() -> None:
    class Shaped:
        def __init__(self) -> None:
            self.input_dtypes = {"s": "string", "f": "float32", "m": "int64", "c": "bool"}
            shapes = {"s": (None, 1), "f": (None,), "m": (None, 2, None), "c": (None, 1)}
            self.signature = Signature(
                "serving_default",
                tuple(TensorInfo(n, self.input_dtypes[n], s) for n, s in shapes.items()),
                (),
            )
            self.output_names: list[str] = []

        def predict(self, inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
            return {}

    assert warm_up_inputs(Shaped()) == {"s": [""], "f": [0.0], "m": [[[0], [0]]], "c": [False]}


def test_the_first_load_of_a_model_that_cannot_evaluate_fails(tmp_path: Path) -> None:
    url = write_model(tmp_path / "model", "nowarm")
    spec = Model(id="add", url=url, inputs=(Field("x", wildcard=True),))
    service = ModelService(spec, None, predictor_factory=AddModel)
    with pytest.raises(LoadError, match="warm-up failed"):
        service.warm()


def test_scan_sees_paths_sizes_and_mtimes(tmp_path: Path) -> None:
    url = write_model(tmp_path / "m", "1")
    first = scan(url)
    assert first is not None and [f[0] for f in first.files] == ["model.txt", "variables.bin"]
    (url / "variables.bin").write_bytes(b"weightz")  # same size, new mtime
    os.utime(url / "variables.bin", ns=(1, 1))
    assert scan(url) != first
    assert scan(tmp_path / "absent") is None


def test_reload_interval_is_read_from_the_configuration() -> None:
    text = "Models: [{ID: a, URL: /m, reloadIntervalMs: 250}, {ID: b, URL: /m}]"
    a, b = parse_config(text).models
    assert (a.reload_interval_ms, b.reload_interval_ms) == (250, 60_000)
    with pytest.raises(ConfigError, match=r"Models\[0\]\.ReloadIntervalMs: must be >= 0"):
        parse_config("Models: [{ID: a, URL: /m, ReloadIntervalMs: -1}]")


def test_the_loader_warms_and_watches_every_model_at_its_interval(
    runtime: Runtime, mly_loader: MlyLoader, mly_models: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        f"""
Models:
  - {{ID: fast, URL: {mly_models}/string_lookups_int_model, ReloadIntervalMs: 250}}
  - {{ID: slow, URL: {mly_models}/string_lookups_int_model}}
""",
    )
    runtime.load_from_file("mly", [config])
    status = mly_loader.snapshot()["reload"]
    assert (status["fast"]["interval_ms"], status["slow"]["interval_ms"]) == (250, 60_000)
    assert mly_loader.health() == {"fast": 1, "slow": 1}
    runtime.clear()
    assert mly_loader.health() == {}
