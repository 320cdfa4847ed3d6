"""Loaded into a private handle by test_upstream_api.c (handle_b.py has the same names)."""

import builtins
import weakref


def which():
    return "a"


def multiply(left: int, right: int) -> int:
    return left * right


async def later(value):
    return value


class _Held:
    """Something the load holds: its finalizer marks that clearing the handle released it."""


_held = _Held()
_marks = builtins.__dict__.setdefault("mlbridge_released", [])
weakref.finalize(_held, _marks.append, "a")
