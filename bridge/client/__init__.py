"""A Python client for mly's HTTP API (ours or viant/mly's server): cache keys built locally,
rows answered from local memory, L1 and L2 when they can be, only the misses sent.

    from bridge.client import Client
    with Client("sli", ["127.0.0.1:8086"]) as client:
        client.eval({"sa": "a", "sl": "a"})          # {"expand": 25}
        client.run([{"sa": "a", "sl": "a"}]).cached   # [True]: no request this time
"""

from bridge.client.client import Client, ClientCounters, Result
from bridge.client.errors import HostsUnavailable, MlyClientError, ProtocolError, ServerError
from bridge.client.meta import CACHE_SCOPES, CacheScope, MetaError
from bridge.mly.keys import InputError

__all__ = [
    "CACHE_SCOPES",
    "CacheScope",
    "Client",
    "ClientCounters",
    "HostsUnavailable",
    "InputError",
    "MetaError",
    "MlyClientError",
    "ProtocolError",
    "Result",
    "ServerError",
]
