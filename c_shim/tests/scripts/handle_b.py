"""Loaded into a second private handle by test_upstream_api.c: the same names as handle_a.py."""

import builtins
import weakref


def which():
    return "b"


def multiply(left, right):
    return left * right * 10


class _Held:
    """Something the load holds: its finalizer marks that clearing the handle released it."""


_held = _Held()
_marks = builtins.__dict__.setdefault("mlbridge_released", [])
weakref.finalize(_held, _marks.append, "b")
