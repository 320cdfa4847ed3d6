"""What a :class:`~bridge.client.Client` raises. A call either answers every row or raises."""

from __future__ import annotations


class MlyClientError(Exception):
    """Base of the client's errors (bad rows raise :class:`bridge.mly.keys.InputError`)."""


class ServerError(MlyClientError):
    """The server answered with an error status (4xx/5xx): never retried on another host.

    ``message`` is the server's ``error`` text (our server's JSON) or its plain-text body (mly's).
    """

    def __init__(self, status: int, message: str, url: str) -> None:
        self.status = status
        self.message = message
        self.url = url
        super().__init__(f"{url}: HTTP {status}: {message}")


class HostsUnavailable(MlyClientError):
    """Every attempt failed before an HTTP answer (connection refused, reset, timed out)."""

    def __init__(self, attempts: list[tuple[str, Exception]]) -> None:
        self.attempts = attempts
        tried = "; ".join(f"{url}: {type(exc).__name__}: {exc}" for url, exc in attempts)
        super().__init__(f"no host answered after {len(attempts)} attempt(s): {tried}")


class ProtocolError(MlyClientError):
    """A 200 answer that is not mly's protocol (not JSON, not ``ok``, wrong number of rows)."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"{url}: {problem}")
