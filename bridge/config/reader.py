"""A generic reader for YAML/JSON configuration: typed values out of nested mappings.

It knows nothing of mly. A :class:`Section` is one mapping of the document: its keys are
matched case-insensitively (as mly's converter matches field names), each value is read with
the type it must have, and every problem is a :class:`ConfigError` naming the key path as the
file spells it (``Models[1].DataStore``). :meth:`Section.finish` rejects keys that nobody read,
so a typo cannot silently fall back to a default. The mly schema (:mod:`bridge.config.schema`)
is written with it.

Hostile documents are bounded: nesting deeper than :data:`MAX_DEPTH` levels and documents
whose aliases expand to more than :data:`MAX_NODES` nodes ("billion laughs") are a
:class:`ConfigError`, and every value an error quotes is cut to a few dozen characters.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bridge.errors import LoadError

MAX_DEPTH = 64
"""Nesting levels a document may have (mly's configurations use about five)."""
MAX_NODES = 100_000
"""Nodes a document may have once every alias is expanded (a plain one: one per value)."""


class ConfigError(LoadError):
    """A configuration problem; ``path`` names the key (``Models[1].Datastore``)."""

    def __init__(self, path: str, problem: str, source: str = "") -> None:
        self.path = path
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {problem}" if path else f"{where}{problem}")


def read_text(path: Path) -> str:
    """The file's text; an unreadable file is a :class:`ConfigError` naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read: {exc.strerror or exc}", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"not UTF-8 text (byte {exc.start})", str(path)) from None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses deep nesting and alias bombs while composing, before
    any value is built (an alias is one shared node there: sizes are counted, not expanded)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = self.anchors.get(event.anchor or "")
            if node is not None:
                self._count(self._size(node), event)
            return super().compose_node(parent, index)
        self._count(1, event)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConfigError("", f"nested deeper than {MAX_DEPTH} levels{_line(event)}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _count(self, nodes: int, event: Any) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise ConfigError(
                "", f"more than {MAX_NODES} values once aliases are expanded{_line(event)}"
            )

    def _size(self, node: Any) -> int:
        """Nodes under ``node``, aliases expanded; each distinct node is measured once."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
        else:
            size = 1
        self._sizes[id(node)] = size
        return size


def _line(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f" (line {mark.line + 1})" if mark is not None else ""


def parse_yaml(text: str, source: str) -> Any:
    """The document in ``text`` (YAML, so JSON too) as plain Python values."""
    try:
        loader = _BoundedLoader(text)  # reads the whole text: a control character stops here
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except ConfigError as exc:
        raise ConfigError(exc.path, exc.problem, source) from None
    except yaml.YAMLError as exc:
        raise ConfigError("", f"not valid YAML: {shown_text(str(exc), 300)}", source) from exc
    except (ValueError, RecursionError) as exc:  # an int of 5,000 digits, …
        raise ConfigError("", f"not a usable value: {shown_text(str(exc), 300)}", source) from None


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel = 2
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 60
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4


def shown(value: Any) -> str:
    """``repr`` of ``value`` cut to a few dozen characters, however large or deep it is."""
    try:
        return _SHOWN.repr(value)
    except (ValueError, RecursionError):  # an int too long for str()
        return f"<{type_name(value)} too large to show>"


def shown_text(text: str, limit: int = 60) -> str:
    """``text`` itself, cut to ``limit`` characters (for messages that quote prose)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@contextmanager
def errors_from(source: str) -> Iterator[None]:
    """Name ``source`` in every :class:`ConfigError` raised inside (sections only know paths)."""
    try:
        yield
    except ConfigError as exc:
        if exc.source:
            raise
        raise ConfigError(exc.path, exc.problem, source) from None


class Section:
    """One mapping of the document, read case-insensitively, remembering its key path.

    ``ignored`` lists keys (lower case) that are valid but have no effect: :meth:`finish`
    accepts them unread.
    """

    def __init__(self, raw: Any, path: str, ignored: frozenset[str] = frozenset()) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected a mapping, got {type_name(raw)}")
        self.path = path
        self.ignored = ignored
        self._values: dict[str, Any] = {}
        self._names: dict[str, str] = {}
        for key, value in raw.items():
            if not isinstance(key, str):
                raise ConfigError(path, f"key {shown(key)} is not a string")
            folded = key.lower()
            if folded in self._values:
                raise ConfigError(
                    self.sub(key), f"given twice (as {shown(self._names[folded])} too)"
                )
            self._values[folded] = value
            self._names[folded] = key
        self._used: set[str] = set()

    def names(self) -> list[str]:
        """Every key, lower-cased, in the file's order."""
        return list(self._values)

    def sub(self, name: str) -> str:
        """The key path of ``name``, spelled as the file spells it."""
        name = shown_text(self._names.get(name.lower(), name))
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name.lower() in self._values and self._values[name.lower()] is not None

    def raw(self, name: str) -> Any:
        self._used.add(name.lower())
        return self._values.get(name.lower())

    def string(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.raw(name)
        if value is None:
            if required:
                raise ConfigError(self.sub(name), "required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(self.sub(name), f"expected a string, got {type_name(value)}")
        text = str(value)
        if required and not text.strip():
            raise ConfigError(self.sub(name), "must not be empty")
        return text

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(self.sub(name), f"expected true or false, got {shown(value)}")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.sub(name), f"expected a number, got {shown(value)}")
        if not math.isfinite(value):
            raise ConfigError(self.sub(name), f"expected a finite number, got {shown(value)}")
        return float(value)

    def integer(self, name: str, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.sub(name), f"expected an integer, got {shown(value)}")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        """A list of non-empty strings; a comma-separated string is accepted too (as mly)."""
        value = self.raw(name)
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        if not isinstance(value, list):
            raise ConfigError(self.sub(name), f"expected a list, got {type_name(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{self.sub(name)}[{i}]", f"expected a name, got {shown(item)}")
            out.append(item)
        return tuple(out)

    def items(self, name: str) -> list[tuple[str, Any]]:
        """A list's items, each with its key path (``Models[0]``)."""
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(self.sub(name), f"expected a list, got {type_name(value)}")
        return [(f"{self.sub(name)}[{i}]", item) for i, item in enumerate(value)]

    def section(self, name: str, ignored: frozenset[str] = frozenset()) -> Section | None:
        value = self.raw(name)
        return None if value is None else Section(value, self.sub(name), ignored)

    def finish(self) -> None:
        """Reject keys that nobody read and that are not ``ignored``."""
        for folded, original in self._names.items():
            if folded not in self._used and folded not in self.ignored:
                raise ConfigError(self.sub(original), "unknown key")


def type_name(value: Any) -> str:
    """How an error names the kind of a value it did not expect."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__
