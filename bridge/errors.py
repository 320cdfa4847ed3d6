"""Typed errors of the bridge runtime.

Every host sees the same errors: Python callers catch these classes, the C shim turns them
into THROWABLE values (through :func:`describe_exception`), Go turns those into ``error``
values and the HTTP service into 4xx/5xx JSON bodies.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass


class BridgeError(Exception):
    """Base class of every error the runtime raises on purpose."""


class ArgumentError(BridgeError):
    """An argument of the runtime API itself is unusable: a name, tag or path that is not a
    string or contains a NUL byte (which a C string would silently cut off)."""


class LoadError(BridgeError):
    """A script or configuration could not be loaded; nothing from it was registered."""


class DuplicateFunctionError(LoadError):
    """A load would register a function name that another load already registered."""

    def __init__(self, names: list[str], source: str) -> None:
        self.names = names
        self.source = source
        joined = ", ".join(repr(n) for n in names)
        super().__init__(f"{source}: duplicated function name(s) {joined}; the earlier load stays")


class LoaderNotFoundError(LoadError):
    """No loader is registered for the tag (MetaCall's ``"py"``, our ``"mly"``)."""


class FunctionNotFoundError(BridgeError):
    """The name is not a loaded function."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"function not found: {name!r}")


@dataclass(frozen=True)
class ExceptionInfo:
    """What crosses a language boundary about a Python exception."""

    type_name: str
    message: str
    traceback: str


def describe_exception(exc: BaseException) -> ExceptionInfo:
    """The type name, message and formatted traceback of ``exc``.

    The C shim calls this for THROWABLE values, :class:`CallError` for Python callers, so all
    hosts report the same three strings.
    """
    if isinstance(exc, CallError):
        return ExceptionInfo(exc.type_name, exc.message, exc.traceback)
    type_name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        type_name = f"{module}.{type_name}"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ExceptionInfo(type_name, str(exc), text)


class CallError(BridgeError):
    """A called function raised; carries the original exception's type, message and traceback."""

    def __init__(self, function: str, type_name: str, message: str, traceback_text: str) -> None:
        self.function = function
        self.type_name = type_name
        self.message = message
        self.traceback = traceback_text
        super().__init__(f"{function}: {type_name}: {message}")

    @classmethod
    def from_exception(cls, function: str, exc: BaseException) -> CallError:
        info = describe_exception(exc)
        return cls(function, info.type_name, info.message, info.traceback)
