"""Cache keys with mly's rules, on the mly fixture models and on hand-made fields."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.mly import MlyLoader
from bridge.mly.keys import ABSENT, FieldSpec, InputError, KeyBuilder, round_half_away
from bridge.mly.service import ModelService
from bridge.models.dictionary import make_layer
from bridge.runtime import Runtime
from support.mly import write_config


@pytest.fixture(scope="module")
def fixtures(mly_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlyLoader]:
    config = write_config(
        tmp_path_factory.mktemp("keys"),
        f"""
Models:
  - {{ID: sli, URL: {mly_models}/string_lookups_int_model, DataStore: mem}}
  - ID: fli
    URL: {mly_models}/float_input_float_model
    DataStore: mem
    Inputs: [{{Name: fl, Precision: 4}}]
  - ID: vec
    URL: {mly_models}/vectorization_int_model
    DataStore: mem
    Inputs: [{{Name: tv, Wildcard: true}}]
Datastores: [{{ID: mem, Cache: {{SizeMB: 4}}}}]
""",
    )
    runtime, mly = Runtime(), MlyLoader()
    runtime.register_loader("mly", mly)
    runtime.load_from_file("mly", [config])
    yield mly
    mly.close()


def key(service: ModelService, row: dict[str, object]) -> str:
    keys = service.keys
    return keys.key(keys.check(row))


def test_an_out_of_vocabulary_string_is_unk(fixtures: MlyLoader) -> None:
    sli = fixtures.services["sli"]
    assert key(sli, {"sa": "zz", "sl": "a"}) == "[UNK]/a"
    assert key(sli, {"sa": "a", "sl": "a"}) == "a/a"
    assert sli.key_fields == ("sa", "sl")  # signature inputs by name


def test_floats_round_to_precision_and_configured_inputs_come_first(fixtures: MlyLoader) -> None:
    fli = fixtures.services["fli"]
    assert key(fli, {"fl": 1.00054, "sl": "a"}) == "1.0005/a"  # mly's "1.235/a" order
    assert key(fli, {"fl": 1.00053, "sl": "a"}) == "1.0005/a"
    assert key(fli, {"fl": 1.00056, "sl": "zz"}) == "1.0006/[UNK]"
    assert fli.keys.check({"fl": 1.00054, "sl": "a"})["fl"] == 1.0005  # model gets it


def test_a_wildcard_keeps_the_raw_value(fixtures: MlyLoader) -> None:
    vec = fixtures.services["vec"]
    assert key(vec, {"tv": "a b c", "sl": "a"}) == "a b c/a"  # tv first: configured
    assert key(vec, {"tv": "a/b", "sl": "q"}) == "a%2Fb/[UNK]"  # '/' escaped: no collisions


def test_int_vocabulary_unknown_is_zero_and_wildcard_float_has_ten_decimals() -> None:
    fields = [
        FieldSpec("code", "int", True, True, layer=make_layer("code", [7, 11])),
        FieldSpec("w", "float", True, True, wildcard=True),
        FieldSpec("p", "float", True, True, precision=2),
    ]
    keys = KeyBuilder(fields, ["code", "w", "p"])
    assert keys.key(keys.check({"code": 7, "w": 0.5, "p": 2.345})) == "7/0.5000000000/2.35"
    assert keys.key(keys.check({"code": 8, "w": 1, "p": -2.345})) == "0/1.0000000000/-2.35"


def test_rounding_is_half_away_from_zero_as_go() -> None:
    assert round_half_away(2.5, 0) == 3 and round_half_away(-2.5, 0) == -3
    assert round_half_away(0.125, 2) == 0.13  # Python's round() gives 0.12


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"sa": "a"}, "missing input 'sl'"),
        ({"sa": "a", "sl": "a", "extra": 1}, "unknown field 'extra'"),
        ({"sa": 5, "sl": "a"}, "field 'sa': expected a string, got int 5"),
        (["a", "a"], "a row must be a dict"),
    ],
)
def test_bad_rows_name_the_field(fixtures: MlyLoader, row: object, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        fixtures.services["sli"].eval(row)  # type: ignore[arg-type]


def test_a_bad_row_in_a_batch_names_its_index(fixtures: MlyLoader) -> None:
    with pytest.raises(InputError, match=r"row 1: field 'fl': expected a float, got str"):
        fixtures.services["fli"].process_batch([{"fl": 1.0, "sl": "a"}, {"fl": "x", "sl": "a"}])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"code": 2**64}, "field 'code': int 18446744073709551616 is out of the 64-bit range"),
        ({"code": 10**5000}, "field 'code': int of 16610 bits is out of the 64-bit range"),
        ({"w": 10**400}, "field 'w': int of 1329 bits is not a finite number"),
        ({"p": 10**400}, "field 'p': int of 1329 bits is not a finite number"),
        ({"p": float("inf")}, "field 'p': float inf is not a finite number"),
        ({"a": 10**5000}, "field 'a': int of 16610 bits is out of the 64-bit range"),
        ({"s": 10**5000}, "field 's': expected a string, got int of 16610 bits"),
        ({"s": list(range(10**5))}, "field 's': expected a string, got list of 100000 items"),
    ],
)
def test_values_no_key_can_hold_are_input_errors(row: dict[str, object], message: str) -> None:
    """Found by fuzz/keys_target.py: an int past float's range raised OverflowError, and one of
    more than 4,300 digits a ValueError from ``str()`` (in the key or in the error message)."""
    fields = [
        FieldSpec("code", "int", True, False, layer=make_layer("code", [7])),
        FieldSpec("w", "float", True, False, wildcard=True),
        FieldSpec("p", "float", True, False, precision=2),
        FieldSpec("a", "any", False, False, wildcard=True),
        FieldSpec("s", "string", True, False, wildcard=True),
    ]
    keys = KeyBuilder(fields, ["code", "w", "p", "a", "s"])
    with pytest.raises(InputError) as caught:
        keys.prepare(row)
    assert str(caught.value) == message
    assert keys.prepare({"code": 2**63 - 1, "w": 1e300, "p": 1e300, "a": -(2**63)})[1] == (
        f"0/{1e300:.10f}/{1e300:.2f}/-9223372036854775808/"
    )


def test_rounding_to_precision_is_stable() -> None:
    """Found by fuzz/keys_target.py: -41255400998277.516 at precision 2 rounded to ….52, and
    ….52 again to ….53, so a client sending the rounded value (bridge.client does) had
    another key than the raw row. Rounding is now its own fixed point at every magnitude."""
    keys = KeyBuilder([FieldSpec("p", "float", True, True, precision=2)], ["p"])
    values, key = keys.prepare({"p": -41255400998277.516})
    assert keys.prepare(values) == (values, key)
    rng = random.Random(14)
    for _ in range(20_000):
        value = rng.uniform(-1, 1) * 10.0 ** rng.randint(-3, 20)
        precision = rng.randint(0, 12)
        once = round_half_away(value, precision)
        assert round_half_away(once, precision) == once, (value, precision)
    assert round_half_away(1.005, 2) == 1.0  # 1.005 is 1.00499999…: as Go's math.Round
    assert round_half_away(2.675e10, 1) == 2.675e10


def test_prepare_many_is_prepare_row_by_row() -> None:
    """The column-wise bulk path (the client's) gives what :meth:`KeyBuilder.prepare` gives each
    row, on the fast path (plain dicts, every field, canonical values), on converted values
    (an int for a float field, bytes for a string, rounding) and with an optional field left
    out (row by row: :data:`ABSENT` in its column); a bad row is named by its index."""
    fields = [
        FieldSpec("code", "int", True, True, layer=make_layer("code", [7, 11])),
        FieldSpec("s", "string", True, True, layer=make_layer("s", ["a", "b/c"])),
        FieldSpec("w", "string", True, True, wildcard=True),
        FieldSpec("p", "float", True, True, precision=2),
        FieldSpec("aux", "any", False, False),
    ]
    keys = KeyBuilder(fields, ["code", "s", "w", "p"])
    rng = random.Random(13)

    def row(full: bool) -> dict[str, object]:
        out: dict[str, object] = {
            "code": rng.choice([7, 8, 11]),
            "s": rng.choice(["a", "b/c", "zz", b"a"]),
            "w": rng.choice(["x", "a/b", "50%", ""]),
            "p": rng.choice([2.345, -2.345, 3, 1e300, 0.125]),
        }
        if full or rng.random() < 0.5:
            out["aux"] = rng.choice([1, "t", 2.5, True])
        return out

    for full in (True, False):
        rows = [row(full) for _ in range(200)]
        one_by_one = [keys.prepare(r) for r in rows]
        columns, built = keys.prepare_many(rows)
        assert built == [k for _, k in one_by_one]
        for name in keys.fields:
            assert columns[name] == [v.get(name, ABSENT) for v, _ in one_by_one], name
    assert keys.prepare_many([]) == ({name: [] for name in keys.fields}, [])
    bad = [row(True), {**row(True), "p": "x"}]
    with pytest.raises(InputError, match=r"^row 1: field 'p': expected a float, got str 'x'$"):
        keys.prepare_many(bad)
    with pytest.raises(InputError, match=r"^row 0: unknown field 'zz'"):
        keys.prepare_many([{**row(True), "zz": 1}, row(True)])
