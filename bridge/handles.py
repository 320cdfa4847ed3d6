"""MetaCall's private handles and its inspect, for the C API (``c_shim/src/handle.c``,
``inspect.c``).

A C load given a handle (``void *h = NULL; metacall_load_from_file(tag, paths, n, &h)``) puts
its functions in a :class:`PrivateScope` instead of the global table: they are called through
the handle (``metacallhv_s``, ``metacall_handle_function``), never by a global name, and a name
that is taken globally or in another handle does not collide. Loading again into the same
handle adds to it (a name taken in that handle fails the load, all or nothing, as globally).
``metacall_destroy`` closes every scope; ``metacall_clear(handle)`` closes one.

:func:`inspect_json` is ``metacall_inspect``'s text: MetaCall's shape, one list per loader tag
with one entry per load (global and private), each with its functions' signatures.

The C side reads these names through :mod:`bridge._cabi` only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from bridge.errors import LoadError
from bridge.runtime import RUNTIME, Function, Handle, Loader, Runtime

# MetaCall's value ids of the annotation names its Python loader knows (metacall_value.h);
# anything else (no annotation, another class) is METACALL_INVALID.
_TYPE_IDS = {
    "bool": 0,
    "int": 4,
    "float": 6,
    "str": 7,
    "bytes": 8,
    "list": 9,
    "tuple": 9,
    "dict": 10,
}
_INVALID_ID = 20


class PrivateScope(Runtime):
    """The functions of one private handle.

    A :class:`Runtime` of its own, so loading follows the same rules, with the loaders of the
    global runtime (``py``, ``mly``); nothing of it is ever in the global table.
    """

    def __init__(self, owner: Runtime) -> None:
        super().__init__()
        self._owner = owner
        self.closed = False
        self._loads: list[tuple[str, dict[str, Callable[..., Any]]]] = []

    def _loader(self, tag: Any) -> Loader:
        if self.closed:
            raise LoadError("this handle was cleared (metacall_clear or metacall_destroy)")
        return self._owner._loader(tag)

    def _register(
        self, tag: str, source: str, found: dict[str, Function], generation: int
    ) -> Handle:
        handle = super()._register(tag, source, found, generation)
        functions = {name: f.callable for name, f in found.items()}
        with self._state_lock:
            if not self.closed:
                self._loads.append((tag, functions))
                return handle
        # Closed between the registration and here: clear() did not see this load.
        self._owner._loader(tag).discard(functions)
        raise LoadError(f"{source}: the handle was cleared while this load ran")

    def clear(self) -> None:
        """Close the scope: its functions are gone, and the loaders release what its loads
        hold (and only that: other handles and the global table keep theirs)."""
        with self._state_lock:
            self._generation += 1
            self.table = {}
            self._handles = []
            self.closed = True
            loads, self._loads = self._loads, []
        loaders = self._owner.loaders()
        for tag, functions in loads:
            loader = loaders.get(tag)
            if loader is not None:
                loader.discard(functions)


_scopes_lock = threading.Lock()
_scopes: list[PrivateScope] = []


def load(scope: PrivateScope | None, tag: bytes, is_file: bool, source: Any) -> PrivateScope:
    """Load into ``scope``, or into a new one when it is None; the scope.

    ``tag`` and the paths (a list of bytes) or script (bytes whose size counts a terminating
    NUL, as MetaCall's) are C strings, decoded as UTF-8. A failed load into a new scope leaves
    nothing behind.
    """
    text_tag = tag.decode("utf-8")
    target = scope if scope is not None else PrivateScope(RUNTIME)
    if is_file:
        target.load_from_file(text_tag, [bytes(p).decode("utf-8") for p in source])
    else:
        target.load_from_memory(text_tag, bytes(source).removesuffix(b"\0").decode("utf-8"))
    if scope is None:
        with _scopes_lock:
            _scopes.append(target)
    return target


def close(scope: PrivateScope) -> None:
    """``metacall_clear``: close one scope (a scope closed already is an error)."""
    if scope.closed:
        raise LoadError("this handle was cleared already (metacall_clear or metacall_destroy)")
    with _scopes_lock:
        if scope in _scopes:
            _scopes.remove(scope)
    scope.clear()


def open_count() -> int:
    """How many scopes are open (loaded into and not yet closed)."""
    with _scopes_lock:
        return len(_scopes)


def close_all() -> None:
    """``metacall_destroy``: close every scope."""
    with _scopes_lock:
        scopes = list(_scopes)
        _scopes.clear()
    for scope in scopes:
        scope.clear()


def export(scope: PrivateScope) -> list[str]:
    """``metacall_handle_export``: the names of the handle's functions, in load order."""
    if scope.closed:
        raise LoadError("this handle was cleared (metacall_clear or metacall_destroy)")
    return list(scope.table)


def function_size(function: Function) -> int:
    """``metacall_function_size``: the parameters of the signature, as MetaCall's Python
    loader counts them (every parameter, ``*args`` and ``**kwargs`` included); 0 when the
    callable has no signature."""
    described = function.describe()["signature"]
    return len(described["args"]) if described else 0


def function_async(function: Function) -> bool:
    """``metacall_function_async``: whether it is an ``async def``."""
    return function.is_async


def _typed(type_info: Mapping[str, Any]) -> dict[str, Any]:
    name = str(type_info.get("name", ""))
    return {"name": name, "id": _TYPE_IDS.get(name.partition("[")[0], _INVALID_ID)}


def _function_metadata(described: Mapping[str, Any]) -> dict[str, Any]:
    signature = described.get("signature") or {"args": [], "ret": {"type": {"name": ""}}}
    return {
        "name": described["name"],
        "signature": {
            "ret": {"type": _typed(signature["ret"]["type"])},
            "args": [
                {"name": arg["name"], "type": _typed(arg["type"])} for arg in signature["args"]
            ],
        },
        "async": bool(described["async"]),
    }


def inspect_json() -> str:
    """``metacall_inspect``: :func:`inspect_data` as compact JSON, as MetaCall's."""
    return json.dumps(inspect_data(), ensure_ascii=False, separators=(",", ":"))


def inspect_data() -> dict[str, list[dict[str, Any]]]:
    """``metacall_inspect_value``: every global load, then every private handle (all its loads
    of one tag as one entry, named after its first, as MetaCall lists a handle), in MetaCall's
    shape:

    ``{"py": [{"name": <source>, "scope": {"name": "global_namespace", "funcs": [{"name",
    "signature": {"ret": {"type": {"name", "id"}}, "args": [{"name", "type": {"name",
    "id"}}]}, "async"}], "classes": [], "objects": []}}], "__metacall_host__": []}``
    """
    with _scopes_lock:
        scopes = list(_scopes)
    out: dict[str, list[dict[str, Any]]] = {}
    groups = [RUNTIME.inspect()]  # one entry per global load
    for scope in scopes:  # one entry per handle and tag
        groups.append(
            {
                tag: [
                    {
                        "name": loads[0]["name"],
                        "scope": {"funcs": [f for e in loads for f in e["scope"]["funcs"]]},
                    }
                ]
                for tag, loads in scope.inspect().items()
                if loads
            }
        )
    for group in groups:
        for tag, entries in group.items():
            for entry in entries:
                out.setdefault(tag, []).append(
                    {
                        "name": entry["name"],
                        "scope": {
                            "name": "global_namespace",
                            "funcs": [_function_metadata(f) for f in entry["scope"]["funcs"]],
                            "classes": [],
                            "objects": [],
                        },
                    }
                )
    out["__metacall_host__"] = []  # MetaCall lists its host loader too; it has no handles
    return out
