"""Loaded from its file into the global scope by test_lifecycle.c: what the load holds has a
finalizer that marks its release ("f"), so the test sees that destroy let go of the module."""

import builtins
import weakref


def held_file_answer():
    return 8


class _Held:
    """Something the load holds."""


_held = _Held()
weakref.finalize(_held, builtins.__dict__.setdefault("mlbridge_global_released", []).append, "f")
