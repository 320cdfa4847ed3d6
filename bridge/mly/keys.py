"""Cache keys with mly's rules, and the row checks that come with building them.

One slot per key field, joined by ``/``:

* a string with a vocabulary → itself if in the vocabulary, else ``[UNK]``;
* an int with a vocabulary → itself if in the vocabulary, else ``0``;
* a float with ``Precision`` p → rounded half away from zero to p decimals and written with p
  decimals; the rounded value is also what the model receives;
* a wildcard → the raw value (a float with 10 decimals, as mly).

One deliberate change: a raw value containing ``/`` or ``%`` has those two characters
percent-encoded, because mly's unescaped join lets ``("a/b", "c")`` and ``("a", "b/c")`` share a
key (and so a prediction). Keys of values without them are byte-for-byte mly's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bridge.models.dictionary import Layer

KEY_DELIMITER = "/"
UNKNOWN_STRING = "[UNK]"
UNKNOWN_INT = "0"
WILDCARD_FLOAT_DECIMALS = 10

Kind = Literal["string", "int", "float", "bool", "any"]


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""In :meth:`KeyBuilder.prepare_many`'s columns: the row leaves this (optional) field out."""


class InputError(ValueError):
    """A row that does not fit the model: names the field and the problem."""


def kind_of(dtype: str) -> Kind:
    """``"int64"`` → ``"int"`` and so on; anything unknown accepts any scalar."""
    dtype = dtype.lower()
    if dtype in ("string", "str", "bytes"):
        return "string"
    if dtype.startswith(("int", "uint")) or dtype == "long":
        return "int"
    if dtype.startswith(("float", "double", "bfloat")) or dtype == "half":
        return "float"
    if dtype == "bool":
        return "bool"
    return "any"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    model_input: bool
    """Fed to the model (otherwise auxiliary: accepted, maybe keyed, never fed)."""
    required: bool
    wildcard: bool = False
    precision: int = 0
    layer: Layer | None = None


def make_field(
    name: str,
    data_type: str,
    *,
    model_input: bool,
    key_fields: Sequence[str],
    wildcard: bool = False,
    precision: int = 0,
) -> FieldSpec:
    """One field by mly's rules, for the server (configuration + signature) and for clients
    (``/meta/config``) alike: required when fed or keyed; a key field the model does not take
    has no vocabulary, so its raw value is its slot (wildcard)."""
    return FieldSpec(
        name=name,
        kind=kind_of(data_type or "any"),
        model_input=model_input,
        required=model_input or name in key_fields,
        wildcard=wildcard or not model_input,
        precision=precision,
    )


def needs_vocabulary(spec: FieldSpec, key_fields: Sequence[str]) -> bool:
    """Is this field's key slot a vocabulary lookup? (a keyed model input, neither wildcard nor
    rounded). The server reads those layers from the model, clients from ``/meta/dictionary``."""
    keyed = spec.name in key_fields and spec.model_input
    return keyed and not spec.wildcard and spec.precision == 0


_EXACT = 2.0**51
"""Below this, ``v·10^p`` keeps at least two bits of fraction, so a value rounded once rounds to
itself again. At or past it (``|v| ≥ 2**51 / 10**p``, e.g. 2.2e13 at ``Precision: 2``) the
value is left as it is: rounding it would not be stable (the key of the rounded value would
differ from the key of the raw one), where mly rounds it anyway."""

INT_MIN, INT_MAX = -(2**63), 2**64 - 1
"""The ints a key field takes: what fits a model's int64 or uint64 input. Beyond them ``str()``
refuses (more than 4,300 digits) or a float conversion overflows."""


def round_half_away(value: float, precision: int) -> float:
    """Go's ``math.Round(v·10^p)/10^p``, which mly uses (Python's ``round`` is half-even)."""
    scale = 10.0**precision
    scaled = value * scale
    if not abs(scaled) < _EXACT:  # no decimals worth rounding (or v·10^p overflowed to inf)
        return value
    rounded = math.floor(abs(scaled) + 0.5)
    return math.copysign(rounded, scaled) / scale


def _escape(text: str) -> str:
    if "/" in text or "%" in text:
        return text.replace("%", "%25").replace("/", "%2F")
    return text


def _raw_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.{WILDCARD_FLOAT_DECIMALS}f}"
    return _escape(str(value))


class KeyBuilder:
    """Checks rows and turns them into (key, model inputs) for one model.

    Each field's check and each slot's text are compiled to one small function up front: a
    memory hit costs a few microseconds in total, and this is most of it.
    """

    def __init__(self, fields: Sequence[FieldSpec], key_fields: Sequence[str]) -> None:
        self.fields = {f.name: f for f in fields}
        self.key_fields = tuple(key_fields)
        self._checks = [(f.name, f.required, _checker(f)) for f in fields]
        self._slots = [(name, _slot_text(self.fields[name])) for name in self.key_fields]
        self._model_inputs = [f.name for f in fields if f.model_input]

    def check(self, row: Any) -> dict[str, Any]:
        """The row's model inputs, typed and normalised (floats rounded to their precision)."""
        if not isinstance(row, Mapping):
            raise InputError(f"a row must be a dict of field → value, not {type(row).__name__}")
        return self._checked(row)

    def prepare(self, row: Any) -> tuple[dict[str, Any], str]:
        """:meth:`check` and :meth:`key` in one call (the ``eval`` hot path)."""
        # A plain dict skips the isinstance check against the Mapping ABC, the slow part.
        values = self._checked(row) if type(row) is dict else self.check(row)
        return values, self.key(values)

    def _checked(self, row: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, required, check in self._checks:
            try:
                value = row[name]
            except KeyError:
                if required:
                    self._unknown(row)  # an unknown field explains a missing one best
                    raise InputError(f"missing input {name!r}") from None
                continue
            values[name] = check(value)
        if len(values) != len(row):
            self._unknown(row)
        return values

    def _unknown(self, row: Mapping[str, Any]) -> None:
        for name in row:
            if name not in self.fields:
                known = ", ".join(sorted(self.fields))
                raise InputError(f"unknown field {name!r} (fields: {known})")

    def key(self, values: Mapping[str, Any]) -> str:
        return KEY_DELIMITER.join([text(values.get(name)) for name, text in self._slots])

    def prepare_many(self, rows: Sequence[Any]) -> tuple[dict[str, list[Any]], list[str]]:
        """:meth:`prepare` for many rows, column by column: (field → its checked value in
        each row, :data:`ABSENT` where a row leaves an optional field out; each row's key).

        The same checks and slot texts as :meth:`prepare`, applied a field at a time to rows
        that are plain dicts holding every field; any other batch (or a bad value) goes row by
        row through :meth:`check`, whose error is prefixed with the row's index.
        """
        n = len(rows)
        try:
            if not all(type(row) is dict and len(row) == len(self._checks) for row in rows):
                raise KeyError  # an absent, unknown or not-a-dict row: row by row
            columns = {
                name: list(map(check, [row[name] for row in rows]))
                for name, _, check in self._checks
            }
        except (KeyError, InputError):
            columns = self._columns_row_by_row(rows)
        texts = [list(map(text, columns.get(name, [None] * n))) for name, text in self._slots]
        keys = list(map(KEY_DELIMITER.join, zip(*texts, strict=True))) if texts else [""] * n
        return columns, keys

    def _columns_row_by_row(self, rows: Sequence[Any]) -> dict[str, list[Any]]:
        values = []
        for i, row in enumerate(rows):
            try:
                values.append(self.check(row))
            except InputError as exc:
                raise InputError(f"row {i}: {exc}" if len(rows) > 1 else str(exc)) from None
        return {name: [v.get(name, ABSENT) for v in values] for name in self.fields}

    @property
    def model_input_names(self) -> list[str]:
        """The fields fed to the model (every checked row has them)."""
        return self._model_inputs


def _checker(spec: FieldSpec) -> Any:
    kind = spec.kind
    if kind == "string":
        return lambda v: v if type(v) is str else _typed(spec, v)
    if kind == "int":
        return lambda v: v if type(v) is int and INT_MIN <= v <= INT_MAX else _typed(spec, v)
    if kind == "float" and (spec.precision == 0 or spec.wildcard):
        return lambda v: v if type(v) is float and math.isfinite(v) else _typed(spec, v)
    return lambda v: _typed(spec, v)


def _slot_text(spec: FieldSpec) -> Any:
    """``value → slot text`` for one key field."""
    layer = spec.layer
    if layer is not None and not spec.wildcard:
        unknown = UNKNOWN_INT if layer.is_int else UNKNOWN_STRING
        known = {v: _raw_text(v) for v in (layer.ints if layer.is_int else layer.strings)}
        get = known.get
        return lambda v: "" if v is None else get(v, unknown)
    if spec.kind == "float" and spec.precision > 0 and not spec.wildcard:
        fmt = f"{{:.{spec.precision}f}}".format
        return lambda v: "" if v is None else fmt(v) if type(v) is float else _raw_text(v)
    if spec.kind == "string":  # checked rows hold a str here: skip _raw_text's type tests
        return lambda v: _escape(v) if type(v) is str else "" if v is None else _raw_text(v)
    return lambda v: "" if v is None else _raw_text(v)


def _typed(spec: FieldSpec, value: Any) -> Any:
    kind = spec.kind
    if kind in ("int", "any") and isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise InputError(f"field {spec.name!r}: int {_quote(value)} is out of the 64-bit range")
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"field {spec.name!r}: bytes that are not UTF-8") from None
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                got = f"{type(value).__name__} {_quote(value)}"
                raise InputError(f"field {spec.name!r}: {got} is not a finite number")
            if spec.precision > 0 and not spec.wildcard:
                number = round_half_away(number, spec.precision)
            return number
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif isinstance(value, (str, int, float, bool)):
        return value
    expected = {"any": "a scalar"}.get(kind, f"a {kind}")
    raise InputError(
        f"field {spec.name!r}: expected {expected}, got {type(value).__name__} {_quote(value)}"
    )


def _quote(value: Any) -> str:
    """At most 40 characters of ``repr(value)``, in bounded time: an int of 5,000 digits has
    no ``repr`` at all, and a long list's would be built whole."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"of {value.bit_length()} bits"
    if isinstance(value, (str, bytes)):
        return f"{value[:40]!r:.40}"
    if isinstance(value, (int, float)) or value is None:
        return f"{value!r:.40}"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"of {len(value)} items"
    return ""
