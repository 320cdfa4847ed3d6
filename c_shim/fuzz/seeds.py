"""Write the seed corpus of the C fuzz targets (``corpus/values`` and ``corpus/convert``).

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


if __name__ == "__main__":
    main()
