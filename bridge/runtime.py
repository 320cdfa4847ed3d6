"""The function table: one per process, shared by every host.

Scripts are loaded by a *loader* chosen by tag (MetaCall's ``"py"``; ``"mly"`` for model
configurations, registered by :mod:`bridge.mly`). A load registers the functions it exports
in one global namespace, as MetaCall does with a NULL handle: a name that is already taken fails
the whole load and the earlier one stays.

Reads are lock-free: the table is a dict that is replaced, never mutated, so a lookup on the hot
path costs one dict access and no lock. Loads are serialised by a lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import inspect as pyinspect
import itertools
import os
import sys
import threading
import types
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bridge.errors import (
    CallError,
    DuplicateFunctionError,
    FunctionNotFoundError,
    LoaderNotFoundError,
    LoadError,
)

SCRIPT_PATH_ENV = "LOADER_SCRIPT_PATH"


@dataclass(frozen=True)
class Function:
    """A loaded function: its name, the callable, and where it came from."""

    name: str
    callable: Callable[..., Any]
    source: str

    @property
    def is_async(self) -> bool:
        return pyinspect.iscoroutinefunction(self.callable)

    def describe(self) -> dict[str, Any]:
        """MetaCall's inspect shape for one function: name, async, signature with types."""
        try:
            sig = pyinspect.signature(self.callable)
        except (TypeError, ValueError):  # builtins without a signature
            return {"name": self.name, "async": self.is_async, "signature": None}
        args = [
            {"name": p.name, "type": {"name": _annotation_name(p.annotation)}}
            for p in sig.parameters.values()
        ]
        ret = {"type": {"name": _annotation_name(sig.return_annotation)}}
        return {
            "name": self.name,
            "async": self.is_async,
            "signature": {"args": args, "ret": ret},
        }


def _annotation_name(annotation: Any) -> str:
    if annotation is pyinspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


@dataclass(frozen=True)
class Handle:
    """What one load registered."""

    tag: str
    source: str
    functions: tuple[str, ...] = field(default_factory=tuple)


class Loader(Protocol):
    """Turns a file or a source text into named callables. It registers nothing itself."""

    def load_file(self, path: Path) -> Mapping[str, Callable[..., Any]]: ...

    def load_memory(self, source: str, name: str) -> Mapping[str, Callable[..., Any]]: ...

    def clear(self) -> None:
        """The runtime forgot every function: release what the loads hold (connections…)."""


class PythonLoader:
    """MetaCall's ``py`` loader: a module's public functions become bridge functions."""

    _memory_ids = itertools.count(1)

    def load_file(self, path: Path) -> Mapping[str, Callable[..., Any]]:
        directory = str(path.parent)
        if directory not in sys.path:  # MetaCall puts execution paths on sys.path too
            sys.path.insert(0, directory)
        module_name = path.stem
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise LoadError(f"{path}: not a Python script")
        module = importlib.util.module_from_spec(spec)
        previous = sys.modules.get(module_name)
        # Registered before running so that the script can be pickled (multiprocessing) and can
        # import itself; removed again if it fails.
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            _restore_module(module_name, previous)
            raise _load_failure(str(path), exc) from exc
        return _public_functions(module)

    def load_memory(self, source: str, name: str) -> Mapping[str, Callable[..., Any]]:
        module_name = name or f"mlbridge_memory_{next(self._memory_ids)}"
        module = types.ModuleType(module_name)
        module.__file__ = f"<memory:{module_name}>"
        try:
            code = compile(source, module.__file__, "exec")
            exec(code, module.__dict__)
        except BaseException as exc:
            raise _load_failure(module.__file__, exc) from exc
        return _public_functions(module)

    def clear(self) -> None:
        """Nothing to release: a script's module stays imported, as under MetaCall."""


def _restore_module(module_name: str, previous: types.ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(module_name, None)
    else:
        sys.modules[module_name] = previous


def _load_failure(source: str, exc: BaseException) -> LoadError:
    if isinstance(exc, SyntaxError):
        return LoadError(f"{source}: syntax error at line {exc.lineno}: {exc.msg}")
    if isinstance(exc, ImportError):
        return LoadError(f"{source}: import failed: {exc}")
    return LoadError(f"{source}: failed while loading: {type(exc).__name__}: {exc}")


def _public_functions(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    """Functions defined by the module itself (not imported ones) whose names are public."""
    return {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and pyinspect.isfunction(obj)
        and obj.__module__ == module.__name__
    }


def script_search_path() -> list[Path]:
    """``LOADER_SCRIPT_PATH`` (``:``-separated, as MetaCall), defaulting to the working dir."""
    raw = os.environ.get(SCRIPT_PATH_ENV, "")
    entries = [Path(p) for p in raw.split(os.pathsep) if p]
    return entries or [Path.cwd()]


def resolve_script(path: str | os.PathLike[str]) -> Path:
    candidate = Path(path)
    if candidate.is_absolute():
        if candidate.is_file():
            return candidate
        raise LoadError(f"{candidate}: no such file")
    search = script_search_path()
    for directory in search:
        found = directory / candidate
        if found.is_file():
            return found.resolve()
    where = ", ".join(str(d) for d in search)
    raise LoadError(f"{candidate}: not found in {SCRIPT_PATH_ENV} ({where})")


class Runtime:
    """The process-wide table of loaded functions and the loaders that fill it."""

    def __init__(self) -> None:
        # name -> Function. Replaced as a whole on every load, never mutated, so that readers
        # (the C shim reads it on every call) need no lock: treat it as read-only.
        self.table: dict[str, Function] = {}
        self._handles: list[Handle] = []
        self._loaders: dict[str, Loader] = {"py": PythonLoader()}
        self._load_lock = threading.RLock()
        # Its own lock: a load can take seconds (TensorFlow), and async calls must not wait on it.
        self._loop_lock = threading.Lock()
        self._async_loop: asyncio.AbstractEventLoop | None = None

    # -- loading -------------------------------------------------------------------------

    def register_loader(self, tag: str, loader: Loader) -> None:
        with self._load_lock:
            self._loaders[tag] = loader

    def _loader(self, tag: str) -> Loader:
        try:
            return self._loaders[tag]
        except KeyError:
            known = ", ".join(sorted(self._loaders))
            raise LoaderNotFoundError(f"no loader for tag {tag!r} (known: {known})") from None

    def load_from_file(self, tag: str, paths: Sequence[str | os.PathLike[str]]) -> Handle:
        """Load every path with the loader of ``tag``; all or nothing."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if not paths:
            raise LoadError("load_from_file: no paths given")
        with self._load_lock:
            loader = self._loader(tag)
            resolved = [resolve_script(p) for p in paths]
            found: dict[str, Function] = {}
            for path in resolved:
                for name, fn in loader.load_file(path).items():
                    if name in found:  # two scripts of one load: as across loads, refused
                        raise DuplicateFunctionError([name], f"{found[name].source}, {path}")
                    found[name] = Function(name, fn, str(path))
            return self._register(tag, ", ".join(str(p) for p in resolved), found)

    def load_from_memory(self, tag: str, source: str, name: str | None = None) -> Handle:
        with self._load_lock:
            loader = self._loader(tag)
            functions = loader.load_memory(source, name or "")
            origin = f"<memory:{name}>" if name else "<memory>"
            found = {n: Function(n, fn, origin) for n, fn in functions.items()}
            return self._register(tag, origin, found)

    def _register(self, tag: str, source: str, found: dict[str, Function]) -> Handle:
        taken = sorted(set(found) & set(self.table))
        if taken:
            raise DuplicateFunctionError(taken, source)
        table = dict(self.table)
        table.update(found)
        self.table = table  # one atomic swap: readers see the old or the new table
        handle = Handle(tag, source, tuple(found))
        self._handles.append(handle)
        return handle

    def clear(self) -> None:
        """Forget every loaded function (MetaCall's destroy); loaders stay registered and
        release what their loads held."""
        with self._load_lock:
            self.table = {}
            self._handles = []
            for loader in self._loaders.values():
                loader.clear()

    # -- calling -------------------------------------------------------------------------

    def function(self, name: str) -> Function:
        try:
            return self.table[name]
        except KeyError:
            raise FunctionNotFoundError(name) from None

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a loaded function; its exception comes back as :class:`CallError`."""
        fn = self.function(name)
        try:
            result = fn.callable(*args, **kwargs)
            if pyinspect.iscoroutine(result):
                result = self.submit_coroutine(name, result).result()
        except Exception as exc:
            raise CallError.from_exception(name, exc) from exc
        return result

    def call_async(self, name: str, *args: Any) -> concurrent.futures.Future[Any]:
        """Start a call whose result may be a coroutine; the future resolves to its value.

        Coroutines run on one background event loop (as MetaCall's Python loader does), so a
        host thread never needs an event loop of its own.
        """
        fn = self.function(name)
        try:
            result = fn.callable(*args)
        except Exception as exc:
            failed: concurrent.futures.Future[Any] = concurrent.futures.Future()
            failed.set_exception(CallError.from_exception(name, exc))
            return failed
        if pyinspect.iscoroutine(result):
            return self.submit_coroutine(name, result)
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        done.set_result(result)
        return done

    def submit_coroutine(
        self, name: str, coro: Coroutine[Any, Any, Any]
    ) -> concurrent.futures.Future[Any]:
        """Run a coroutine that function ``name`` returned on the runtime's event loop."""

        async def guarded() -> Any:
            try:
                return await coro
            except Exception as exc:
                raise CallError.from_exception(name, exc) from exc

        return asyncio.run_coroutine_threadsafe(guarded(), self._event_loop())

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """The background loop that runs coroutines, started by the first one."""
        loop = self._async_loop
        if loop is not None:
            return loop
        with self._loop_lock:
            if self._async_loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="mlbridge-asyncio", daemon=True
                ).start()
                self._async_loop = loop
            return self._async_loop

    # -- introspection -------------------------------------------------------------------

    def inspect(self) -> dict[str, list[dict[str, Any]]]:
        """Every loaded function grouped by loader tag and source, as MetaCall's inspect."""
        out: dict[str, list[dict[str, Any]]] = {}
        table = self.table
        for handle in self._handles:
            funcs = [table[n].describe() for n in handle.functions if n in table]
            out.setdefault(handle.tag, []).append(
                {"name": handle.source, "scope": {"funcs": funcs}}
            )
        return out

    def names(self) -> list[str]:
        return sorted(self.table)


RUNTIME = Runtime()
