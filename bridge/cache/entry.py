"""What a datastore holds for one key: the outputs of one row and the dictionary hash."""

from __future__ import annotations

import json
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
    if not isinstance(document, dict):
        raise CorruptEntryError("not an object")
    dict_hash = document.get("h")
    values = document.get("v")
    if not isinstance(dict_hash, int) or isinstance(dict_hash, bool):
        raise CorruptEntryError("no dictionary hash")
    if not isinstance(values, dict) or not values:
        raise CorruptEntryError("no values")
    return Entry(dict_hash, values)
