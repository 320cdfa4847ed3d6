"""The function table: one per process, shared by every host.

Scripts are loaded by a *loader* chosen by tag (MetaCall's ``"py"``; ``"mly"`` for model
configurations and ``"mly-server"`` for the HTTP server's, :mod:`bridge.mly`); :data:`RUNTIME`,
at the end of this file, is built with them. A load registers the functions it exports in one
global namespace, as MetaCall does with a NULL handle: a name that is already taken fails the
whole load and the earlier one stays.

Reads are lock-free: the table is a dict that is replaced, never mutated, so a lookup on the hot
path costs one dict access and no lock. Loads run without a lock (a script that hangs while it
loads blocks only its own caller); a finished load is registered in one short critical section,
all or nothing. :meth:`Runtime.clear` never waits for a load in progress: such a load is
refused when it finishes, and the loader releases what it opened.

Over 400 lines because :class:`Runtime` is one piece of state: the table, the loaders, the
event loop for async functions and the lock that loads, calls and :meth:`Runtime.clear` share;
split across modules, that lock's rules would be too.
"""

from __future__ import annotations

import array
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
    SCRIPT_MODULE_PREFIX,
    ArgumentError,
    CallError,
    DuplicateFunctionError,
    FunctionNotFoundError,
    LoaderNotFoundError,
    LoadError,
    script_module_name,
)
from bridge.mly import MLY, SERVER, SERVER_TAG

SCRIPT_PATH_ENV = "LOADER_SCRIPT_PATH"


CALLS, ERRORS = 0, 1
"""Indexes into :attr:`Function.counts`."""


def _new_counts() -> array.array[int]:
    return array.array("q", [0, 0])


@dataclass(frozen=True)
class Function:
    """A loaded function: its name, the callable, and where it came from."""

    name: str
    callable: Callable[..., Any]
    source: str
    counts: array.array[int] = field(default_factory=_new_counts, compare=False, repr=False)
    """``[calls, errors]``: :meth:`Runtime.call` counts here, and the C core's call routine
    counts into the same buffer, so every host's call is counted once. An array, not two int
    attributes: C increments it in place, and ``counts[0] += 1`` on it, under the GIL, calls no
    Python code in between (see :mod:`bridge.metrics`)."""

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


def _count_failure(future: concurrent.futures.Future[Any], counts: array.array[int]) -> None:
    if not future.cancelled() and future.exception() is not None:
        counts[ERRORS] += 1


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

    def discard(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        """The runtime refused what one load returned (a taken name, or :meth:`Runtime.clear`
        ran meanwhile), or forgot it (a clear, or a private handle closed): release what that
        load holds, and nothing else."""

    def clear(self) -> None:
        """The runtime forgot every function (each load discarded first): release what is
        left (connections, threads…)."""


class PythonLoader:
    """MetaCall's ``py`` loader: a module's public functions become bridge functions.

    A script runs as a module of a private, unique name (``mlbridge_script_<n>_<stem>``,
    :func:`~bridge.errors.script_module_name`), so a user script called ``redis.py`` never
    replaces the installed ``redis`` package in ``sys.modules``; its directory is appended to
    ``sys.path`` (after the installed packages), so the script's sibling modules import but
    cannot shadow installed ones either. Callers never see that name: an exception class of the
    script is named after the script (:func:`~bridge.errors.describe_exception`).
    """

    _module_ids = itertools.count(1)

    def _module_name(self, stem: str) -> str:
        while True:
            name = script_module_name(next(self._module_ids), stem)
            if name not in sys.modules:
                return name

    def load_file(self, path: Path) -> Mapping[str, Callable[..., Any]]:
        directory = str(path.parent)
        if directory not in sys.path:  # MetaCall puts execution paths on sys.path too
            sys.path.append(directory)
        module_name = self._module_name(path.stem)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise LoadError(f"{path}: not a Python script")
        module = importlib.util.module_from_spec(spec)
        # Registered before running so that the script can be pickled (multiprocessing) and can
        # find itself; removed again if it fails or the runtime refuses it.
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(module_name, None)
            raise _load_failure(str(path), exc) from exc
        return _public_functions(module)

    def load_memory(self, source: str, name: str) -> Mapping[str, Callable[..., Any]]:
        module_name = self._module_name(name)
        module = types.ModuleType(module_name)
        module.__file__ = f"<memory:{name}>" if name else "<memory>"
        try:
            # The whole text: compile() refuses a NUL byte rather than reading up to it.
            code = compile(source, module.__file__, "exec")
            exec(code, module.__dict__)
        except BaseException as exc:
            raise _load_failure(module.__file__, exc) from exc
        return _public_functions(module)

    def discard(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        for fn in functions.values():
            module_name = getattr(fn, "__module__", "") or ""
            if module_name.startswith(SCRIPT_MODULE_PREFIX):
                sys.modules.pop(module_name, None)

    def clear(self) -> None:
        """Nothing left: :meth:`discard` released each load's module."""


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


def _checked_text(what: str, value: Any) -> str:
    """A name, tag or path given to the runtime API: a ``str`` without NUL bytes.

    C and Go hand these over as C strings, which end at the first NUL: a name with one inside
    would silently mean a shorter name, so it is refused on every host alike.
    """
    if not isinstance(value, str):
        raise ArgumentError(f"{what} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise ArgumentError(f"{what} {_quoted(value)} contains a NUL byte")
    return value


def _checked_paths(paths: Any) -> list[str | os.PathLike[str]]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if isinstance(paths, (bytes, bytearray)) or not isinstance(paths, Sequence):
        raise ArgumentError(f"paths must be a list of str paths, not {type(paths).__name__}")
    if not paths:
        raise LoadError("load_from_file: no paths given")
    checked: list[str | os.PathLike[str]] = []
    for i, path in enumerate(paths):
        text = os.fspath(path) if isinstance(path, os.PathLike) else path
        _checked_text(f"paths[{i}]", text)
        checked.append(path)
    return checked


def _quoted(text: str, limit: int = 80) -> str:
    """``repr`` of at most ``limit`` characters of ``text`` (errors must stay short)."""
    shown = repr(text[:limit])
    return shown + "…" if len(text) > limit else shown


class Runtime:
    """The process-wide table of loaded functions and the loaders that fill it."""

    def __init__(self, loaders: Mapping[str, Loader] | None = None) -> None:
        """``loaders``: tag → loader; only MetaCall's ``"py"`` when not given."""
        # name -> Function. Replaced as a whole on every load, never mutated, so that readers
        # (the C shim reads it on every call) need no lock: treat it as read-only.
        self.table: dict[str, Function] = {}
        self._handles: list[Handle] = []
        self._loaders: dict[str, Loader] = {
            _checked_text("tag", tag): loader
            for tag, loader in (loaders or {"py": PythonLoader()}).items()
        }
        # Held only to register a finished load, to clear, or to add a loader: never while a
        # script runs, so that clear() (metacall_destroy) keeps its bound whatever a load does.
        self._state_lock = threading.Lock()
        self._generation = 0  # bumped by clear(): a load that started before it is refused
        # Its own lock: a load can take seconds (TensorFlow), and async calls must not wait on it.
        self._loop_lock = threading.Lock()
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

    # -- loading -------------------------------------------------------------------------

    def register_loader(self, tag: str, loader: Loader) -> None:
        with self._state_lock:
            self._loaders[_checked_text("tag", tag)] = loader

    def loaders(self) -> dict[str, Loader]:
        """Tag → loader, for every registered loader (a copy)."""
        with self._state_lock:
            return dict(self._loaders)

    def _loader(self, tag: Any) -> Loader:
        tag = _checked_text("tag", tag)
        try:
            return self._loaders[tag]
        except KeyError:
            known = ", ".join(sorted(self._loaders))
            raise LoaderNotFoundError(f"no loader for tag {tag!r} (known: {known})") from None

    def load_from_file(self, tag: str, paths: Sequence[str | os.PathLike[str]]) -> Handle:
        """Load every path with the loader of ``tag``; all or nothing."""
        checked = _checked_paths(paths)
        loader = self._loader(tag)
        generation = self._generation
        resolved = [resolve_script(p) for p in checked]
        found: dict[str, Function] = {}
        loads: list[Mapping[str, Callable[..., Any]]] = []
        try:
            for path in resolved:
                functions = loader.load_file(path)
                loads.append(functions)
                for name, fn in functions.items():
                    if name in found:  # two scripts of one load: as across loads, refused
                        raise DuplicateFunctionError([name], f"{found[name].source}, {path}")
                    found[name] = Function(name, fn, str(path))
            return self._register(tag, ", ".join(str(p) for p in resolved), found, generation)
        except BaseException:
            for functions in loads:
                loader.discard(functions)
            raise

    def load_from_memory(self, tag: str, source: str, name: str | None = None) -> Handle:
        loader = self._loader(tag)
        if name is not None:
            _checked_text("name", name)
        if not isinstance(source, str):
            raise ArgumentError(f"source must be a string, not {type(source).__name__}")
        generation = self._generation
        functions = loader.load_memory(source, name or "")
        origin = f"<memory:{name}>" if name else "<memory>"
        found = {n: Function(n, fn, origin) for n, fn in functions.items()}
        try:
            return self._register(tag, origin, found, generation)
        except BaseException:
            loader.discard(functions)
            raise

    def _register(
        self, tag: str, source: str, found: dict[str, Function], generation: int
    ) -> Handle:
        for name in found:
            _checked_text("function name", name)
        with self._state_lock:
            if generation != self._generation:
                raise LoadError(
                    f"{source}: the runtime was cleared (destroyed) while this load ran; "
                    "nothing was registered"
                )
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
        release what their loads held (a script's module leaves ``sys.modules``, so nothing
        keeps it once no call runs it). Does not wait for loads in progress: they are refused
        when they finish."""
        with self._state_lock:
            self._generation += 1
            table, handles = self.table, self._handles
            self.table = {}
            self._handles = []
            loaders = dict(self._loaders)
        for handle in handles:
            loader = loaders.get(handle.tag)
            if loader is not None:
                loader.discard({n: table[n].callable for n in handle.functions if n in table})
        for loader in loaders.values():
            loader.clear()

    # -- calling -------------------------------------------------------------------------

    def function(self, name: str) -> Function:
        table = self.table
        try:
            return table[name]
        except KeyError:
            checked = _checked_text("name", name)
            raise FunctionNotFoundError(checked, nothing_loaded=not table) from None
        except TypeError:  # unhashable: not a name at all
            _checked_text("name", name)
            raise

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a loaded function; its exception comes back as :class:`CallError`."""
        fn = self.function(name)
        counts = fn.counts
        counts[CALLS] += 1
        try:
            result = fn.callable(*args, **kwargs)
            if pyinspect.iscoroutine(result):
                result = self.await_coroutine(name, result)
        except CallError:
            counts[ERRORS] += 1
            raise
        except (Exception, SystemExit) as exc:  # a called script must not exit the host
            counts[ERRORS] += 1
            raise CallError.from_exception(name, exc) from exc
        return result

    def call_async(self, name: str, *args: Any) -> concurrent.futures.Future[Any]:
        """Start a call whose result may be a coroutine; the future resolves to its value.

        Coroutines run on one background event loop (as MetaCall's Python loader does), so a
        host thread never needs an event loop of its own.
        """
        fn = self.function(name)
        counts = fn.counts
        counts[CALLS] += 1
        try:
            result = fn.callable(*args)
        except (Exception, SystemExit) as exc:
            counts[ERRORS] += 1
            failed: concurrent.futures.Future[Any] = concurrent.futures.Future()
            failed.set_exception(CallError.from_exception(name, exc))
            return failed
        if pyinspect.iscoroutine(result):
            future = self.submit_coroutine(name, result)
            future.add_done_callback(lambda f: _count_failure(f, counts))
            return future
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        done.set_result(result)
        return done

    def await_coroutine(self, name: str, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine that function ``name`` returned on the runtime's loop; its value.

        From code already running on that loop (an ``async def`` that calls ``bridge.call`` on
        another ``async def``) waiting would block the loop on itself forever: that is a
        :class:`CallError` instead.
        """
        loop = self._async_loop
        if loop is not None and threading.current_thread() is self._loop_thread:
            coro.close()
            raise CallError.from_exception(
                name,
                RuntimeError(
                    f"{name!r} is async and was called synchronously from a coroutine on the "
                    "runtime's event loop: waiting would deadlock the loop; await it "
                    "(or call it with call_async) instead"
                ),
            )
        return self.submit_coroutine(name, coro).result()

    def submit_coroutine(
        self, name: str, coro: Coroutine[Any, Any, Any]
    ) -> concurrent.futures.Future[Any]:
        """Run a coroutine that function ``name`` returned on the runtime's event loop."""

        async def guarded() -> Any:
            try:
                return await coro
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # SystemExit or KeyboardInterrupt would stop the loop
                raise CallError.from_exception(name, exc) from exc

        return asyncio.run_coroutine_threadsafe(guarded(), self._event_loop())

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """The background loop that runs coroutines, started by the first one and started
        again if its thread ever ended."""
        loop, thread = self._async_loop, self._loop_thread
        if loop is not None and thread is not None and thread.is_alive():
            return loop
        with self._loop_lock:
            if self._async_loop is None or not (self._loop_thread and self._loop_thread.is_alive()):
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="mlbridge-asyncio", daemon=True
                )
                self._async_loop, self._loop_thread = loop, thread
                thread.start()
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


RUNTIME = Runtime({"py": PythonLoader(), "mly": MLY, SERVER_TAG: SERVER})
"""The process-wide runtime that every host calls (the C shim reads this name)."""
