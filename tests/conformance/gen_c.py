"""Writes the C runner's view of the conformance table: a header of static data.

C has no JSON parser in the shim, so CMake runs this at build time (``python -m
conformance.gen_c OUT.h`` from ``tests/``, rebuilt whenever ``cases.json`` or this file
changes); ``runner.c`` builds the arguments, makes the calls and asserts the answers from it.
Only the cases that run on the ``c`` host are written, with their ``c`` expectation; the
others are listed by id with the table's reason, which the runner prints.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from conformance.table import CASES, Case, ErrorSpec, Value, load

_KINDS = {
    "null": "CONF_NULL",
    "bool": "CONF_BOOL",
    "int": "CONF_LONG",
    "float": "CONF_DOUBLE",
    "str": "CONF_STRING",
    "bytes": "CONF_BUFFER",
    "list": "CONF_ARRAY",
    "map": "CONF_MAP",
    "int8": "CONF_CHAR",
    "int16": "CONF_SHORT",
    "int32": "CONF_INT",
    "float32": "CONF_FLOAT",
    "unconvertible": "CONF_UNCONVERTIBLE",
    "utf8": "CONF_STRING",
}


def c_string(data: bytes) -> str:
    """A C string literal of exactly these bytes (octal escapes cannot run into the next)."""
    out = []
    for byte in data:
        char = chr(byte)
        if 0x20 <= byte < 0x7F and char not in '\\"?':
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_double(number: float) -> str:
    if math.isnan(number):
        return "NAN"
    if math.isinf(number):
        return "INFINITY" if number > 0 else "-INFINITY"
    return number.hex()  # exact


def c_long(number: int) -> str:
    if number == -(2**63):
        return "(-9223372036854775807LL - 1)"
    return f"{number}LL"


class Writer:
    def __init__(self) -> None:
        self.arrays: list[str] = []
        self.count = 0

    def _name(self) -> str:
        self.count += 1
        return f"conf_v{self.count}"

    def value(self, v: Value) -> str:
        """A ``struct conf_value`` initializer; children go into arrays written before it."""
        kind = _KINDS.get(v.kind)
        if kind is None:
            raise ValueError(f"no C form for a {v.kind} value")
        fields = [f".kind = {kind}"]
        if v.kind == "bool":
            fields.append(f".integer = {int(v.data)}")
        elif v.kind in ("int", "int8", "int16", "int32"):
            fields.append(f".integer = {c_long(v.data)}")
        elif v.kind in ("float", "float32"):
            fields.append(f".real = {c_double(v.data)}")
        elif v.kind in ("str", "bytes", "utf8"):
            data = v.data.encode("utf-8", "surrogatepass") if v.kind == "str" else v.data
            fields += [f".bytes = {c_string(data)}", f".size = {len(data)}"]
        elif v.kind in ("list", "map"):
            items = list(v.data) if v.kind == "list" else [x for pair in v.data for x in pair]
            fields += [f".items = {self.array(items)}", f".count = {len(v.data)}"]
        return "{ " + ", ".join(fields) + " }"

    def array(self, items: list[Value]) -> str:
        if not items:
            return "NULL"
        inits = [self.value(item) for item in items]
        name = self._name()
        body = ",\n\t".join(inits)
        self.arrays.append(f"static const struct conf_value {name}[] = {{\n\t{body}\n}};")
        return name

    def error(self, spec: ErrorSpec) -> list[str]:
        kind = {"exception": "CONF_EXCEPTION", "not_found": "CONF_NOT_FOUND"}.get(
            spec.kind, "CONF_ARGUMENT"
        )
        fields = [f".outcome = {kind}"]
        if spec.type is not None:
            fields.append(f".error_type = {c_string(spec.type.encode())}")
        if spec.message is not None:
            fields.append(f".message = {c_string(spec.message.encode())}")
        if spec.contains:
            parts = ", ".join(c_string(p.encode()) for p in spec.contains)
            name = self._name()
            self.arrays.append(f"static const char *const {name}[] = {{ {parts} }};")
            fields += [f".contains = {name}", f".ncontains = {len(spec.contains)}"]
        if spec.traceback is not None:
            fields.append(f".traceback = {c_string(spec.traceback.encode())}")
        fields.append(f".position = {-1 if spec.position is None else spec.position}")
        return fields

    def case(self, case: Case) -> str:
        name = case.function.encode("utf-8")
        if b"\0" in name:
            raise ValueError(f"{case.id}: a C function name cannot hold a NUL")
        fields = [
            f".id = {c_string(case.id.encode())}",
            f".function = {c_string(name)}",
            f".args = {self.array(list(case.args))}",
            f".argc = {len(case.args)}",
            f".is_async = {int(case.is_async)}",
        ]
        if case.counts is not None:
            fields += [".counted = 1", f".calls = {case.counts[0]}", f".errors = {case.counts[1]}"]
        expect = case.expected("c")
        if expect.error is not None:
            fields += self.error(expect.error)
        else:
            assert expect.result is not None
            single = self.array([expect.result])
            fields += [".outcome = CONF_RESULT", f".result = {single}"]
        return "{ " + ",\n\t  ".join(fields) + " }"


def header(path: Path = CASES) -> str:
    table = load(path)
    writer = Writer()
    cases = [writer.case(c) for c in table.for_host("c")]
    skipped = [
        f"{{ {c_string(c.id.encode())}, {c_string(c.why.encode())} }}"
        for c in table.cases
        if "c" not in c.hosts
    ]
    lines = [
        f"/* Generated by tests/conformance/gen_c.py from {path.name}: do not edit. */",
        "#include <math.h>",
        "#include <stddef.h>",
        '#include "conformance.h"',
        f"static const char conf_script[] = {c_string(str(table.script).encode())};",
        *writer.arrays,
        "static const struct conf_case conf_cases[] = {",
        ",\n".join("\t" + c for c in cases),
        "};",
        "static const struct conf_skipped conf_skipped_cases[] = {",
        ",\n".join("\t" + s for s in skipped) or "\t{ NULL, NULL }",
        "};",
        f"static const size_t conf_case_count = {len(cases)};",
        f"static const size_t conf_skipped_count = {len(skipped)};",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m conformance.gen_c OUTPUT.h", file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    text = header()
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
