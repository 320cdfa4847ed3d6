"""Servers the tests start as child processes: started, closed and stopped the same way
everywhere, as :mod:`bridge.server` runs ``mlbridge-server``."""

from __future__ import annotations

from bridge.server import ChildServer as ChildServer  # with Server(...) as server: ...
from bridge.server import stop_process as stop_process  # one way to stop a child server
