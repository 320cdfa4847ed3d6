"""Write the seed corpus of the C fuzz targets (``corpus/values``, ``corpus/convert`` and
``corpus/handles``).

Each seed is a program in the byte language of ``fuzz_input.h``: an opcode byte, then its
payload (big-endian integers, 2-byte lengths). The convert target reads one more byte first:
the number of arguments (mod 5). libFuzzer grows the corpus from these; ``make test`` replays
them. Run ``python c_shim/fuzz/seeds.py`` after changing the byte language.
"""

from __future__ import annotations

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent

(
    NULL, BOOL, CHAR, SHORT, INT, LONG, FLOAT, DOUBLE,
    STRING, BUFFER, ARRAY, MAP, NEST, BAD_MAP, HOLES, SAME_KEYS,
) = range(16)  # fmt: skip


def text(data: bytes, op: int = STRING) -> bytes:
    return bytes([op]) + struct.pack(">H", len(data)) + data


def long(value: int) -> bytes:
    return bytes([LONG]) + struct.pack(">q", value)


def double(value: float) -> bytes:
    return bytes([DOUBLE]) + struct.pack(">d", value)


def array(*items: bytes) -> bytes:
    return bytes([ARRAY, len(items)]) + b"".join(items)


def mapping(*pairs: tuple[bytes, bytes]) -> bytes:
    return bytes([MAP, len(pairs)]) + b"".join(k + v for k, v in pairs)


def nest(levels: int, inner: bytes) -> bytes:
    return bytes([NEST]) + struct.pack(">H", levels) + inner


VALUES: dict[str, bytes] = {
    "scalars": bytes([NULL, BOOL, 1, CHAR, 0x80, SHORT, 0x80, 0x00, INT, 0x7F, 0xFF, 0xFF, 0xFF])
    + long(-(2**63))
    + bytes([FLOAT, 0x7F, 0xC0, 0, 0])
    + double(float("inf")),
    "strings": text(b"hello") + text(b"") + text(b"nul\x00inside") + text(b"\xff\xfe bad utf-8"),
    "buffer": text(b"\x00\x01\x02 bytes", BUFFER),
    "array": array(long(1), text(b"two"), bytes([NULL]), double(3.5)),
    "map": mapping((text(b"a"), long(1)), (text(b"b"), array(double(1.5)))),
    "map_int_key": mapping((long(1), text(b"x"))),
    "nest_5000": nest(5000, long(42)),
    "nest_19999": nest(19999, text(b"deep")),
    "bad_map": bytes([BAD_MAP]) + long(1) + text(b"not a pair"),
    "holes": bytes([HOLES, 5]),
    "same_keys": bytes([SAME_KEYS]) + long(1) + long(2) + long(3),
    "containers_in_containers": array(mapping((text(b"k"), array(array(), mapping()))), array()),
}


# fuzz_handles: operations (low 3 bits; the slot in the next bits) on up to four handles.
LOAD, LOAD_INTO, CALL, LOOKUP, EXPORT, CLEAR, INSPECT, GLOBAL_CALL = range(8)


def name(text: bytes) -> bytes:
    """A raw name (any bytes) for CALL, LOOKUP and GLOBAL_CALL."""
    return bytes([len(text)]) + text


def script(*names: bytes, tag: int = 0, nul: bool = True) -> bytes:
    """A LOAD payload: the tag's index, then each function name in the template's alphabet
    (a byte per letter: a-z = 0-25, '_' = 26, digits = 27-36, 0xfe 'é', 0xff not UTF-8)."""
    body = bytes([tag, len(names) - 1])
    for n in names:
        body += bytes([len(n) - 1]) + n
    return body + bytes([1 if nul else 0])


HANDLES: dict[str, bytes] = {
    # two handles with the same names, called, exported, inspected, cleared
    "two_handles": bytes([LOAD])
    + script(b"\x00\x01", b"\x02")
    + bytes([LOAD | 8])
    + script(b"\x00\x01")
    + bytes([CALL])
    + name(b"ab")
    + bytes([CALL | 8])
    + name(b"ab")
    + bytes([LOOKUP])
    + name(b"c")
    + bytes([EXPORT])
    + bytes([INSPECT])
    + bytes([CLEAR | 8])
    + bytes([CALL | 8])
    + name(b"ab")
    + bytes([EXPORT | 8]),
    # more loads into one handle: a new name, then a taken one
    "load_into": bytes([LOAD])
    + script(b"\x00")
    + bytes([LOAD_INTO])
    + script(b"\x01")
    + bytes([LOAD_INTO])
    + script(b"\x00")
    + bytes([EXPORT]),
    # loads that fail: a digit first, a byte that is not UTF-8, unknown and undecodable tags
    "bad_loads": bytes([LOAD])
    + script(b"\x1b")
    + bytes([LOAD])
    + script(b"\x00\xff")
    + bytes([LOAD])
    + script(b"\x00", tag=4)
    + bytes([LOAD])
    + script(b"\x00", tag=5)
    + bytes([LOAD])
    + script(b"\x00\xfe", nul=False)
    + bytes([CALL])
    + name(b"a\xc3\xa9"),
    # names that are not names: NUL inside, invalid UTF-8, empty; no handle at all
    "odd_names": bytes([CALL])
    + name(b"")
    + bytes([LOOKUP])
    + name(b"\xff\xfe")
    + bytes([GLOBAL_CALL])
    + name(b"ok\x00tail")
    + bytes([GLOBAL_CALL])
    + name(b"ok")
    + bytes([LOAD])
    + script(b"\x0e\x0a")
    + bytes([CALL])
    + name(b"ok\x00x"),
}


def main() -> None:
    for target, prefix in (("values", b""), ("convert", b"\x04")):
        folder = HERE / "corpus" / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, program in VALUES.items():
            # convert: up to 4 arguments; the last seeds pass fewer.
            (folder / f"seed_{name}").write_bytes(prefix + program)
        if target == "convert":
            (folder / "seed_no_arguments").write_bytes(b"\x00")
            (folder / "seed_one_nested").write_bytes(b"\x01" + nest(300, array(long(7))))

    folder = HERE / "corpus" / "handles"
    folder.mkdir(parents=True, exist_ok=True)
    for seed, program in HANDLES.items():
        (folder / f"seed_{seed}").write_bytes(program)


if __name__ == "__main__":
    main()
