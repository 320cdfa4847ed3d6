"""bridge.handles: MetaCall's private handles and inspect text, the Python half of
``metacall_load_from_*(…, &handle)``, ``metacallhv_s``, ``metacall_handle_export``,
``metacall_clear`` and ``metacall_inspect`` (the C half: c_shim/tests/test_upstream_api.c)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge import handles
from bridge.errors import DuplicateFunctionError, LoadError
from bridge.runtime import RUNTIME

SCRIPT = (
    b"def which():\n    return 'private'\n\n"
    b"async def later(x: int, *rest, **named) -> int:\n    return x\n\0"
)


@pytest.fixture
def scope() -> Iterator[handles.PrivateScope]:
    made = handles.load(None, b"py", False, SCRIPT)
    yield made
    if not made.closed:
        handles.close(made)


def test_a_private_load_stays_out_of_the_global_table(scope: handles.PrivateScope) -> None:
    assert "which" in scope.table and "which" not in RUNTIME.table
    assert scope.table["which"].callable() == "private"
    # The same names again in another handle do not collide; in the same one they do.
    other = handles.load(None, b"py", False, SCRIPT)
    try:
        assert other.table["which"] is not scope.table["which"]
        with pytest.raises(DuplicateFunctionError):
            handles.load(scope, b"py", False, SCRIPT)
        assert handles.load(scope, b"py", False, b"def extra():\n    return 7\n\0") is scope
        assert handles.export(scope) == ["which", "later", "extra"]
    finally:
        handles.close(other)


def test_a_private_file_load_goes_through_the_script_path(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text("def mine():\n    return 1\n", encoding="utf-8")
    made = handles.load(None, b"py", True, [str(tmp_path / "mine.py").encode()])
    try:
        assert made.table["mine"].callable() == 1
    finally:
        handles.close(made)


def test_a_failed_load_into_a_new_handle_leaves_nothing() -> None:
    before = handles.open_count()
    with pytest.raises(LoadError):
        handles.load(None, b"py", False, b"def broken(:\n\0")
    with pytest.raises(UnicodeDecodeError):
        handles.load(None, b"py", False, b"\xff\0")
    assert handles.open_count() == before


def test_closing_empties_the_scope_and_refuses_more(scope: handles.PrivateScope) -> None:
    handles.close(scope)
    assert scope.table == {} and scope.closed
    with pytest.raises(LoadError, match="cleared"):
        handles.export(scope)
    with pytest.raises(LoadError, match="cleared"):
        handles.load(scope, b"py", False, b"def x():\n    return 1\n\0")
    with pytest.raises(LoadError, match="already"):
        handles.close(scope)


def test_function_facts_follow_upstreams_counting(scope: handles.PrivateScope) -> None:
    assert handles.function_size(scope.table["which"]) == 0
    assert handles.function_size(scope.table["later"]) == 3  # x, *rest, **named
    assert handles.function_async(scope.table["later"]) is True
    assert handles.function_async(scope.table["which"]) is False


def test_inspect_is_metacalls_shape_with_private_loads(scope: handles.PrivateScope) -> None:
    text = handles.inspect_json()
    assert '"__metacall_host__":[]' in text and ", " not in text  # compact, as upstream's
    data = json.loads(text)
    loads = data["py"]
    mine = [entry for entry in loads if "which" in {f["name"] for f in entry["scope"]["funcs"]}]
    assert mine, text
    entry = mine[-1]
    assert entry["scope"]["name"] == "global_namespace"
    assert entry["scope"]["classes"] == [] and entry["scope"]["objects"] == []
    later = next(f for f in entry["scope"]["funcs"] if f["name"] == "later")
    assert later == {
        "name": "later",
        "signature": {
            "ret": {"type": {"name": "int", "id": 4}},
            "args": [
                {"name": "x", "type": {"name": "int", "id": 4}},
                {"name": "rest", "type": {"name": "", "id": 20}},
                {"name": "named", "type": {"name": "", "id": 20}},
            ],
        },
        "async": True,
    }
    # More loads into one handle are one entry (named after the first), as MetaCall lists it.
    handles.load(scope, b"py", False, b"def extra():\n    return 7\n\0")
    entries = handles.inspect_data()["py"]
    mine = [e for e in entries if "extra" in {f["name"] for f in e["scope"]["funcs"]}]
    assert len(mine) == 1 and {"which", "later", "extra"} <= {
        f["name"] for f in mine[0]["scope"]["funcs"]
    }
    handles.close(scope)
    assert all(
        "later" not in {f["name"] for f in e["scope"]["funcs"]}
        for e in json.loads(handles.inspect_json()).get("py", [])
    )
