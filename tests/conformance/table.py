"""The conformance table (``cases.json``) read into typed cases, for the Python runner
(``tests/test_conformance.py``) and the C runner's header (:mod:`conformance.gen_c`).

Values keep the type the table wrote (``{"$int8": 1}`` stays an ``int8`` :class:`Value`), so that
each host can build its own narrowest argument from it; :meth:`Value.python` is what a Python
caller passes or gets. The notation is in ``README.md`` beside this file. A table that does
not follow it is a :class:`TableError` naming the case, so a typo fails every runner.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.json"
HOSTS = ("python", "c", "go")
ERROR_KINDS = ("exception", "not_found", "argument")

# Kinds every host reads; kinds only arguments use (a host's narrower types, and input that
# only C and Go can give); kinds only a Python caller gets back.
PLAIN_KINDS = ("null", "bool", "int", "float", "str", "bytes", "list", "map")
ARGUMENT_KINDS = ("int8", "int16", "int32", "float32", "unconvertible", "utf8")
PYTHON_KINDS = ("tuple", "bytearray", "set", "bigint", "numpy")
_INT_RANGES = {"int8": 8, "int16": 16, "int32": 32}
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class TableError(ValueError):
    """``cases.json`` does not follow the notation."""


@dataclass(frozen=True)
class Value:
    """One value of the table. ``data`` by kind: ``None`` (null), ``bool``, ``int`` (int: 64-bit;
    bigint: beyond; int8/16/32), ``float`` (float; float32 already rounded to float32),
    ``str``, ``bytes`` (bytes, bytearray; utf8: the raw bytes of a string that is not UTF-8),
    ``tuple[Value, ...]`` (list, tuple, set), ``tuple[tuple[Value, Value], ...]`` (map),
    ``str`` (unconvertible: what each host passes), ``tuple[str, Value]`` (numpy: its dtype and
    its value as plain Python)."""

    kind: str
    data: Any

    def python(self) -> Any:
        """The value as a Python caller passes it or gets it back."""
        kind, data = self.kind, self.data
        if kind in ("list", "tuple", "set"):
            items = [item.python() for item in data]
            return {"list": list, "tuple": tuple, "set": set}[kind](items)
        if kind == "map":
            return {key.python(): value.python() for key, value in data}
        if kind == "bytearray":
            return bytearray(data)
        if kind == "numpy":
            import numpy as np  # only Python runners get numpy values back

            dtype, plain = data
            array = np.asarray(plain.python(), dtype=dtype)
            return array[()] if array.ndim == 0 else array
        if kind in ("unconvertible", "utf8"):
            raise TableError(f"a {kind} value has no Python form (restrict the case's hosts)")
        return data

    def kinds(self) -> set[str]:
        """Every kind in this value, its own included."""
        found = {self.kind}
        if self.kind in ("list", "tuple", "set"):
            for item in self.data:
                found |= item.kinds()
        elif self.kind == "map":
            for key, value in self.data:
                found |= key.kinds() | value.kinds()
        return found


@dataclass(frozen=True)
class ErrorSpec:
    """An expected failure. ``kind``: ``exception`` (the function raised, or its arguments or
    result did not convert in Python: ``type`` is the exception's type name), ``not_found``
    (no such function) or ``argument`` (the host refused an argument or the name before any
    function ran; ``position`` is the argument's index when given). ``message`` must equal the
    message, each of ``contains`` must be in it, ``traceback`` must be in the traceback."""

    kind: str
    type: str | None = None
    message: str | None = None
    contains: tuple[str, ...] = ()
    traceback: str | None = None
    position: int | None = None

    def matches_message(self, message: str) -> bool:
        exact = self.message is None or message == self.message
        return exact and all(part in message for part in self.contains)


@dataclass(frozen=True)
class Expect:
    """Either ``result`` (``error`` is None) or ``error``."""

    result: Value | None = None
    error: ErrorSpec | None = None


@dataclass(frozen=True)
class Case:
    id: str
    function: str
    args: tuple[Value, ...]
    expect: Expect
    is_async: bool = False
    hosts: tuple[str, ...] = HOSTS
    why: str = ""
    overrides: Mapping[str, Expect] = field(default_factory=dict)
    counts: tuple[int, int] | None = None
    """How much one synchronous call adds to the function's ``[calls, errors]`` counters, the
    same on every host (contract 4: each host's call is counted once); None: not counted
    (no such function)."""

    def expected(self, host: str) -> Expect:
        return self.overrides.get(host, self.expect)

    @property
    def category(self) -> str:
        return self.id.split("/", 1)[0]


@dataclass(frozen=True)
class Table:
    script: Path
    cases: tuple[Case, ...]

    def for_host(self, host: str) -> tuple[Case, ...]:
        return tuple(case for case in self.cases if host in case.hosts)


def value(raw: Any, where: str = "value") -> Value:
    """A value in the table's notation (``README.md``) as a :class:`Value`."""
    if raw is None:
        return Value("null", None)
    if isinstance(raw, bool):
        return Value("bool", raw)
    if isinstance(raw, int):
        return Value("int" if -(2**63) <= raw < 2**63 else "bigint", raw)
    if isinstance(raw, float):
        return Value("float", raw)
    if isinstance(raw, str):
        return Value("str", raw)
    if isinstance(raw, list):
        return Value("list", tuple(value(x, f"{where}[{i}]") for i, x in enumerate(raw)))
    if not isinstance(raw, dict):
        raise TableError(f"{where}: {raw!r} is not a value")
    tags = [key for key in raw if key.startswith("$")]
    if not tags:
        return Value(
            "map", tuple((Value("str", k), value(v, f"{where}.{k}")) for k, v in raw.items())
        )
    if len(raw) != 1:
        raise TableError(f"{where}: a tagged value has one key, not {sorted(raw)}")
    tag, data = tags[0][1:], raw[tags[0]]
    return _tagged(tag, data, f"{where}.${tag}")


def _tagged(tag: str, data: Any, where: str) -> Value:
    if tag in ("int8", "int16", "int32") and isinstance(data, int) and not isinstance(data, bool):
        return Value(tag, _ranged(tag, data, where))
    if tag == "float32" and isinstance(data, str) and data in _SPECIAL_FLOATS:
        return Value(tag, _SPECIAL_FLOATS[data])
    if tag == "float32" and isinstance(data, (int, float)) and not isinstance(data, bool):
        rounded: float = struct.unpack("f", struct.pack("f", data))[0]
        return Value(tag, rounded)
    if tag == "float" and isinstance(data, str) and data in _SPECIAL_FLOATS:
        return Value("float", _SPECIAL_FLOATS[data])
    if tag in ("bytes", "bytearray", "utf8") and isinstance(data, str):
        try:
            return Value(tag, bytes.fromhex(data))
        except ValueError:
            raise TableError(f"{where}: {data!r} is not hex") from None
    if tag in ("tuple", "set") and isinstance(data, list):
        return Value(tag, tuple(value(x, f"{where}[{i}]") for i, x in enumerate(data)))
    if tag == "map" and isinstance(data, list):
        pairs = []
        for i, pair in enumerate(data):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise TableError(f"{where}[{i}]: a $map entry is [key, value]")
            pairs.append((value(pair[0], f"{where}[{i}][0]"), value(pair[1], f"{where}[{i}][1]")))
        return Value("map", tuple(pairs))
    if tag == "repeat" and _is_repeat(data):
        return Value("str", data[0] * data[1])
    if tag == "numpy" and isinstance(data, dict) and set(data) == {"dtype", "value"}:
        return Value(tag, (str(data["dtype"]), value(data["value"], where)))
    if tag == "unconvertible" and isinstance(data, str):
        return Value(tag, data)
    raise TableError(f"{where}: unknown tag or bad data: ${tag} {data!r}")


def _is_repeat(data: Any) -> bool:
    return (
        isinstance(data, list)
        and len(data) == 2
        and isinstance(data[0], str)
        and isinstance(data[1], int)
        and data[1] >= 0
    )


def _ranged(kind: str, number: int, where: str) -> int:
    bits = _INT_RANGES[kind]
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise TableError(f"{where}: {number} does not fit in {bits} bits")
    return number


def _expect(raw: Mapping[str, Any], where: str) -> Expect:
    if ("result" in raw) == ("error" in raw):
        raise TableError(f"{where}: give exactly one of 'result' and 'error'")
    if "result" in raw:
        return Expect(result=value(raw["result"], f"{where}.result"))
    spec = dict(raw["error"])
    known = {"kind", "type", "message", "contains", "traceback", "position"}
    if set(spec) - known or spec.get("kind") not in ERROR_KINDS:
        raise TableError(f"{where}.error: keys {sorted(known)}, kind one of {ERROR_KINDS}")
    if (spec["kind"] == "exception") != ("type" in spec):
        raise TableError(f"{where}.error: 'type' is given for (and only for) an exception")
    spec["contains"] = tuple(spec.get("contains", ()))
    return Expect(error=ErrorSpec(**spec))


_CASE_KEYS = {"id", "call", "args", "result", "error", "async", "hosts", "why", "counts", *HOSTS}


def _counts(raw: Mapping[str, Any], expect: Expect, where: str) -> tuple[int, int] | None:
    """The case's ``counts``, or what its expectation implies: a result is one call, an
    exception one call and one error, an argument refused no call, an unknown name nothing
    to count. Give ``counts`` where the failure is not the function's own (a result that
    does not convert fails after a successful call)."""
    if "counts" in raw:
        counts = raw["counts"]
        if not (
            isinstance(counts, list)
            and len(counts) == 2
            and all(isinstance(n, int) and n >= 0 for n in counts)
        ):
            raise TableError(f"{where}: 'counts' is [calls, errors]")
        return (counts[0], counts[1])
    if "\0" in raw["call"]:
        return None  # not a name any function can have
    if expect.error is None:
        return (1, 0)
    return {"exception": (1, 1), "argument": (0, 0)}.get(expect.error.kind)


def _case(raw: Mapping[str, Any]) -> Case:
    where = f"case {raw.get('id', '?')!r}"
    unknown = set(raw) - _CASE_KEYS
    if unknown:
        raise TableError(f"{where}: unknown keys {sorted(unknown)}")
    if not isinstance(raw.get("id"), str) or not isinstance(raw.get("call"), str):
        raise TableError(f"{where}: 'id' and 'call' are strings")
    hosts = tuple(raw.get("hosts", HOSTS))
    if not hosts or set(hosts) - set(HOSTS):
        raise TableError(f"{where}: hosts are some of {HOSTS}")
    if (hosts != HOSTS) != bool(raw.get("why")):
        raise TableError(f"{where}: 'why' says why a case runs on fewer hosts, and only then")
    args = raw.get("args")
    if not isinstance(args, list):
        raise TableError(f"{where}: 'args' is a list")
    overrides = {h: _expect(raw[h], f"{where}.{h}") for h in HOSTS if h in raw}
    expect = _expect(raw, where)
    case = Case(
        id=raw["id"],
        function=raw["call"],
        args=tuple(value(a, f"{where}.args[{i}]") for i, a in enumerate(args)),
        expect=expect,
        is_async=bool(raw.get("async", False)),
        hosts=hosts,
        why=raw.get("why", ""),
        overrides=overrides,
        counts=_counts(raw, expect, where),
    )
    _check_kinds(case, where)
    return case


def _check_kinds(case: Case, where: str) -> None:
    """Each host gets only values it can build and compare."""
    arg_kinds = set().union(*(a.kinds() for a in case.args)) if case.args else set()
    if set(arg_kinds) & set(PYTHON_KINDS):
        raise TableError(f"{where}: {sorted(PYTHON_KINDS)} are results for Python only")
    if "python" in case.hosts and arg_kinds & {"unconvertible", "utf8"}:
        raise TableError(f"{where}: $unconvertible and $utf8 arguments are for C and Go only")
    for host in case.hosts:
        result = case.expected(host).result
        if result is None:
            continue
        allowed = set(PLAIN_KINDS) | (set(PYTHON_KINDS) if host == "python" else set())
        if result.kinds() - allowed:
            raise TableError(f"{where}: a {host} result has kinds {sorted(allowed)} only")
        if host != "python" and not _string_keyed(result):
            raise TableError(f"{where}: a {host} result's dicts have str keys (else an error)")


def _string_keyed(v: Value) -> bool:
    if v.kind == "map":
        return all(k.kind == "str" and _string_keyed(x) for k, x in v.data)
    if v.kind in ("list", "tuple", "set"):
        return all(_string_keyed(x) for x in v.data)
    return True


def load(path: Path = CASES) -> Table:
    """The table at ``path``, checked."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    cases = tuple(_case(c) for c in raw["cases"])
    ids = [c.id for c in cases]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise TableError(f"duplicated case ids: {duplicated}")
    return Table(script=path.parent / raw["script"], cases=cases)


def same(got: Any, want: Any) -> bool:
    """Equal and of the same types all the way down (``True`` is not ``1``, ``1`` is not
    ``1.0``, a tuple is not a list); NaN equals NaN and ``-0.0`` is not ``0.0``."""
    if type(got) is not type(want):
        return False
    if type(want).__module__ == "numpy" and getattr(want, "ndim", 0) > 0:  # an ndarray
        return bool(got.dtype == want.dtype and (got == want).all())
    if isinstance(want, float):
        if math.isnan(want):
            return math.isnan(got)
        return bool(got == want and math.copysign(1, got) == math.copysign(1, want))
    if isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict):
        keys = list(want)
        return list(got) == keys and all(
            same(gk, wk) and same(got[gk], want[wk]) for gk, wk in zip(got, keys, strict=True)
        )
    return bool(got == want)
