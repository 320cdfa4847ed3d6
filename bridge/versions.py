"""The models version: how a host that keeps answers of served models learns that one changed.

:meth:`bridge.mly.service.ModelService.install` calls :func:`models_changed` after it swapped a
new version in (a hot reload). When the runtime is embedded in a C or Go host,
:mod:`bridge._cabi` installs the shim's bump of ``mlbridge_models_version`` (``mlbridge.h``) as
the listener: a counter that the HTTP server reads with one atomic load, without a call or the
GIL, to drop its memo of answers (``go_host/server/memo.go``). In a plain Python process there
is no listener.
"""

from __future__ import annotations

from collections.abc import Callable

_listener: Callable[[], object] | None = None


def on_models_changed(listener: Callable[[], object] | None) -> None:
    """Call ``listener`` (no arguments, quick, never raising) after every version swap from now
    on, instead of the previous one (``None``: nobody)."""
    global _listener
    _listener = listener


def models_changed() -> None:
    """A served model's new version is in place: tell the listener."""
    listener = _listener
    if listener is not None:
        listener()
