"""Servers the tests start as child processes: stopping one the same way everywhere."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from bridge.server import stop_process as stop_process  # one way to stop a child server


class ChildServer:
    """``with Server(...) as server:`` starts it and closes it (subclasses define both)."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
