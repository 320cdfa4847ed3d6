"""Fuzz target: cache key building (:class:`bridge.mly.keys.KeyBuilder`).

One builder with every kind of key field (vocabulary strings and ints, a float with a
precision, wildcards, a bool, a key-only auxiliary field) checks rows decoded from the input.
For any row:

- ``prepare`` answers ``(values, key)`` or raises :class:`InputError`; nothing else;
- the key has exactly one slot per key field (raw values cannot forge a ``/``);
- the key is the same for the normalised values (checking is idempotent) and for a copy;
- the key can be sent to a store (UTF-8, lone surrogates as ``surrogatepass``).

    python fuzz/keys_target.py build/fuzz/keys fuzz/corpus/keys -max_total_time=60

:func:`check` is also what ``tests/test_fuzz_corpora.py`` replays over the committed corpus.
"""

from __future__ import annotations

import struct
import sys
from typing import Any

from bridge.mly.keys import KEY_DELIMITER, FieldSpec, InputError, KeyBuilder
from bridge.models.dictionary import Layer

FIELDS = (
    FieldSpec(
        "country", "string", True, True, layer=Layer("country", strings=("France", "It/a%ly"))
    ),
    FieldSpec("year", "int", True, True, layer=Layer("year", ints=(-1, 0, 2015))),
    FieldSpec("price", "float", True, True, precision=2),
    FieldSpec("title", "string", True, False, wildcard=True),
    FieldSpec("score", "float", True, False, wildcard=True),
    FieldSpec("organic", "bool", True, False),
    FieldSpec("region", "any", False, False, wildcard=True),
)
KEY_FIELDS = ("region", "country", "price", "year", "title", "score", "organic")
BUILDER = KeyBuilder(FIELDS, KEY_FIELDS)
PART = b"\xfe"


def value_of(kind: int, payload: bytes) -> Any:
    """One field value from two bytes' worth of choice and a payload."""
    match kind % 8:
        case 0:
            return payload.decode("utf-8", "surrogateescape")  # may hold lone surrogates
        case 1:
            return payload
        case 2:
            return int.from_bytes(payload, "little", signed=True)  # past 64 bits and 4,300 digits
        case 3:
            return struct.unpack("<d", payload[:8].ljust(8, b"\0"))[0]
        case 4:
            return payload[:1] not in (b"", b"\0")
        case 5:
            return None
        case 6:
            return [payload.decode("latin-1")]
        case _:
            return float(int.from_bytes(payload[:2], "little")) / 100


def row_of(data: bytes) -> dict[Any, Any]:
    """``field byte, kind byte, payload`` parts separated by 0xFE; a field byte past the
    known fields names an unknown field (its payload as the name)."""
    row: dict[Any, Any] = {}
    for part in data.split(PART):
        if len(part) < 2:
            continue
        field, kind, payload = part[0], part[1], part[2:]
        if field % (len(FIELDS) + 1) == len(FIELDS):
            row[payload.decode("utf-8", "replace")] = value_of(kind, b"")
        else:
            row[FIELDS[field % len(FIELDS)].name] = value_of(kind, payload)
    return row


def check(data: bytes) -> None:
    row = row_of(data)
    try:
        values, key = BUILDER.prepare(row)
    except InputError:
        return
    assert isinstance(key, str)
    assert len(key.split(KEY_DELIMITER)) == len(KEY_FIELDS), (row, key)
    assert BUILDER.prepare(dict(row))[1] == key
    assert BUILDER.prepare(values)[1] == key, (row, values, key)
    key.encode("utf-8", "surrogatepass")


def main() -> None:
    import atheris

    atheris.instrument_all()  # coverage of everything imported: the key builder and its checks
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
