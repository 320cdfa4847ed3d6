"""What a datastore holds for one key: the outputs of one row and the dictionary hash."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class CorruptEntryError(ValueError):
    """Stored bytes that are not an entry (a miss for the reader, counted as ``corrupt``)."""


@dataclass(frozen=True, slots=True)
class Entry:
    dict_hash: int
    values: dict[str, Any]
    """Output name → value (plain Python: str, int, float, bool, or lists of them)."""


def encode(entry: Entry) -> bytes:
    """Compact JSON: the same bytes in memory and in Redis, readable with ``redis-cli``."""
    return json.dumps(
        {"h": entry.dict_hash, "v": entry.values}, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def decode(data: bytes | str) -> Entry:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptEntryError(f"not JSON: {exc}") from None
    except RecursionError:  # nested deeper than the interpreter recurses
        raise CorruptEntryError("not JSON: nested too deep") from None
    if not isinstance(document, dict):
        raise CorruptEntryError("not an object")
    dict_hash = document.get("h")
    values = document.get("v")
    if not isinstance(dict_hash, int) or isinstance(dict_hash, bool):
        raise CorruptEntryError("no dictionary hash")
    if not isinstance(values, dict) or not values:
        raise CorruptEntryError("no values")
    return Entry(dict_hash, values)


_SCALAR_CHECKS: dict[str, Callable[[Any], bool]] = {
    # v - v == 0 is false for inf and nan: a stored 1e999 is not a prediction.
    "float": lambda v: (type(v) is float and v - v == 0.0) or type(v) is int,
    "int": lambda v: type(v) is int,
    "string": lambda v: type(v) is str,
    "bool": lambda v: type(v) is bool,
}


def _anything(value: Any) -> bool:
    return True  # a kind the reader does not know: the names alone are checked


def _nested(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def fits(value: Any, depth: int = 0) -> bool:
        if type(value) is not list or depth > 32:
            return False
        return all(fits(v, depth + 1) if type(v) is list else check(v) for v in value)

    return fits


class Shape:
    """What one model's entries hold: exactly its output names, each with a value of its kind.

    The dictionary hash says which vocabulary a key was built with, not which model stored
    the entry: another model of the same vocabulary sharing a namespace, or anybody who can
    write to the server, could store ``{"points": "ninety"}``. Readers check entries against
    the shape of the model they serve; one that does not fit is a corrupt miss.
    """

    def __init__(self, outputs: Mapping[str, tuple[str, bool]]) -> None:
        """``outputs``: name → (kind: ``"float"``, ``"int"``, ``"string"``, ``"bool"`` or
        ``"any"``, one scalar per example?)."""
        self.outputs = dict(outputs)
        self._checks = [
            (name, _check(kind, scalar)) for name, (kind, scalar) in self.outputs.items()
        ]

    def fits(self, values: Mapping[str, Any]) -> bool:
        if len(values) != len(self._checks):
            return False
        for name, check in self._checks:
            value = values.get(name, _MISSING)
            if value is _MISSING or not check(value):
                return False
        return True


_MISSING = object()


def _check(kind: str, scalar: bool) -> Callable[[Any], bool]:
    check = _SCALAR_CHECKS.get(kind, _anything)
    return check if scalar or check is _anything else _nested(check)
