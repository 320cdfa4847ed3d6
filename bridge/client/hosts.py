"""Several servers, round robin; a host that failed at the transport level is skipped for a
back-off (doubled while it keeps failing), then tried again by one request.

Unlike mly's client, which retries on the same host with no pause, a retry goes to the next
host that is up. When every host is down the one whose back-off ends first is tried anyway:
the pool never refuses a call without a network attempt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Host:
    url: str
    """``http://host:port`` with no trailing slash."""
    backoff_s: float = 0.0
    """0 while the host is up."""
    retry_at: float = 0.0
    failures: int = 0
    """Transport failures so far (for inspection; never reset)."""

    @property
    def up(self) -> bool:
        return self.backoff_s == 0.0


def normalise_host(host: str | tuple[str, int]) -> str:
    """``"h:p"``, ``("h", p)`` or ``"http://h:p"`` → ``"http://h:p"`` (https for 443 and 1443,
    as mly's client)."""
    if isinstance(host, tuple):
        name, port = host
        host = f"{name}:{port}"
    if not isinstance(host, str) or not host:
        raise ValueError(f"a host is 'name:port' or a URL, got {host!r}")
    if "://" in host:
        return host.rstrip("/")
    port_text = host.rsplit(":", 1)[-1] if ":" in host else "80"
    scheme = "https" if port_text in ("443", "1443") else "http"
    return f"{scheme}://{host}"


class HostPool:
    def __init__(
        self,
        hosts: Sequence[str | tuple[str, int]],
        *,
        backoff_s: float = 0.1,
        max_backoff_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not hosts:
            raise ValueError("at least one host is required")
        if backoff_s <= 0 or max_backoff_s < backoff_s:
            raise ValueError("backoff_s must be > 0 and <= max_backoff_s")
        self.hosts = [Host(normalise_host(h)) for h in hosts]
        self.initial_backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0

    def pick(self) -> Host:
        """The next host that is up, or whose back-off has passed (it becomes the probe)."""
        now = self._clock()
        with self._lock:
            count = len(self.hosts)
            for step in range(count):
                host = self.hosts[(self._next + step) % count]
                if host.up or host.retry_at <= now:
                    self._next = (self._next + step + 1) % count
                    if not host.up:  # one probe at a time: the next caller skips it
                        host.retry_at = now + host.backoff_s
                    return host
            return min(self.hosts, key=lambda h: h.retry_at)

    def failed(self, host: Host) -> None:
        with self._lock:
            host.failures += 1
            doubled = host.backoff_s * 2 if host.backoff_s else self.initial_backoff_s
            host.backoff_s = min(self.max_backoff_s, doubled)
            host.retry_at = self._clock() + host.backoff_s

    def succeeded(self, host: Host) -> None:
        if host.backoff_s:
            with self._lock:
                host.backoff_s = 0.0
                host.retry_at = 0.0
