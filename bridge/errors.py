"""Typed errors of the bridge runtime.

Every host sees the same errors: Python callers catch these classes, the C shim turns them
into THROWABLE values (through :func:`describe_exception`), Go turns those into ``error``
values and the HTTP service into 4xx/5xx JSON bodies.
"""

from __future__ import annotations

import re
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


NOTHING_LOADED = "nothing is loaded: load a script or configuration first"
"""What an unknown name's error adds when the table is empty (the C shim says the same)."""


class FunctionNotFoundError(BridgeError):
    """The name is not a loaded function."""

    def __init__(self, name: str, *, nothing_loaded: bool = False) -> None:
        self.name = name
        hint = f" ({NOTHING_LOADED})" if nothing_loaded else ""
        super().__init__(f"function not found: {name!r}{hint}")


SCRIPT_MODULE_PREFIX = "mlbridge_script_"
"""The start of the private module name a ``"py"`` script runs under."""


def script_module_name(number: int, name: str) -> str:
    """The private, unique module name of the ``number``-th script loaded, named ``name`` (a
    file's stem, a memory script's name, or ``""``): ``mlbridge_script_<number>[_<name>]``,
    with the characters a Python name cannot hold as ``_``. Private so that a script called
    ``redis.py`` never replaces the installed package in ``sys.modules``."""
    if not name:
        return f"{SCRIPT_MODULE_PREFIX}{number}"
    identifier = "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:64]
    return f"{SCRIPT_MODULE_PREFIX}{number}_{identifier}"


def public_module_name(module: str) -> str:
    """The module name a caller sees: a script's own name (``""`` for an unnamed memory
    script) for the private name :func:`script_module_name` gave it, else ``module``."""
    if not module.startswith(SCRIPT_MODULE_PREFIX):
        return module
    number, _, name = module.removeprefix(SCRIPT_MODULE_PREFIX).partition("_")
    return name if number.isdigit() else module


@dataclass(frozen=True)
class ExceptionInfo:
    """What crosses a language boundary about a Python exception."""

    type_name: str
    message: str
    traceback: str


def describe_exception(exc: BaseException) -> ExceptionInfo:
    """The type name, message and formatted traceback of ``exc``.

    The C shim calls this for THROWABLE values, :class:`CallError` for Python callers, so all
    hosts report the same three strings. The type name is ``<module>.<qualified name>``
    (``ValueError``, ``bridge.errors.LoadError``): for a class a script defines, the module is
    the script's name (``wine_checks.Refused``), the same in every process and every load; a
    builtin, a ``__main__`` class or one of an unnamed memory script has its qualified name only.
    """
    if isinstance(exc, CallError):
        return ExceptionInfo(exc.type_name, exc.message, exc.traceback)
    type_name = type(exc).__qualname__
    module = public_module_name(type(exc).__module__)
    if module not in ("", "builtins", "__main__"):
        type_name = f"{module}.{type_name}"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if SCRIPT_MODULE_PREFIX in text:  # the "Type: message" lines of it and its chain
        text = _PRIVATE_TYPE_NAME.sub(_public_type_name, text)
    return ExceptionInfo(type_name, str(exc), text)


_PRIVATE_TYPE_NAME = re.compile(rf"^{SCRIPT_MODULE_PREFIX}\d+(?:_\w+)?\.", re.MULTILINE)


def _public_type_name(match: re.Match[str]) -> str:
    module = public_module_name(match.group(0)[:-1])
    return f"{module}." if module else ""


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
