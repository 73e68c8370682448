"""Per-client rate limits: a moving window (the `limits` library) kept in this process's memory,
or in Redis when ``ROLEBOT_REDIS_URL`` is set so that every replica counts against one limit.

Who the client is: the peer address of the connection, or, when that peer is a configured
trusted proxy (``--trusted-proxy`` / ``ROLEBOT_TRUSTED_PROXY``), the rightmost address in
X-Forwarded-For that is not itself a trusted proxy. Anyone else's X-Forwarded-For is ignored:
it is written by the client and would let it pick a fresh identity per request.

If Redis stops answering, the limit falls back to this replica's own memory (logged once per
outage) and Redis is tried again every few seconds: answers keep flowing and a client is still
limited, per replica, until Redis is back.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from collections import OrderedDict

from .config import redacted
from .errors import RolebotError

log = logging.getLogger("rolebot")

MAX_CLIENTS = 10_000  # clients remembered at once by the in-memory limit
REDIS_TIMEOUT = 0.25  # seconds a limit check waits for Redis before using the local limit
REDIS_RETRY = 5.0  # seconds between attempts to use Redis again after it failed
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(spec) -> tuple[int, float] | None:
    """Parse "60/minute" into (60 requests, 60.0 seconds); "off", "0" or "" mean no limit (None)."""
    text = str(spec).strip().lower()
    if text in ("", "0", "off", "none", "unlimited"):
        return None
    m = re.fullmatch(r"(\d+)\s*(?:/|per)\s*(\d*)\s*([a-z]+)", text)
    unit = m and (m.group(3) if m.group(3) in _UNITS else m.group(3)[:-1] if m.group(3).endswith("s") else "")
    if not m or unit not in _UNITS or int(m.group(1)) < 1:
        raise RolebotError(f"rate limit {spec!r} is not like '60/minute' (or 'off'): set ROLEBOT_RATE_LIMIT or rate_limit= to that form")
    return int(m.group(1)), float(int(m.group(2) or 1) * _UNITS[unit])


class RateLimiter:
    """At most `requests` per client in any `period` seconds (a moving window)."""

    def __init__(self, requests: int, period: float, redis_url: str | None = None, max_clients: int = MAX_CLIENTS):
        from limits import RateLimitItemPerSecond
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.item = RateLimitItemPerSecond(requests, max(1, round(period)))
        self.period = float(self.item.get_expiry())
        self.max_clients = max_clients
        self._local = MovingWindowRateLimiter(MemoryStorage())
        # Clients the local window holds, oldest first (key -> last request), to bound memory.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._shared = _redis_limiter(redis_url) if redis_url else None
        self.redis_url = redis_url
        self._redis_down_until = 0.0

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds until it may."""
        if self._shared is not None and time.monotonic() >= self._redis_down_until:
            try:
                return self._take(self._shared, key)
            except Exception as exc:  # noqa: BLE001 - any Redis failure: limit locally, never refuse for it
                if self._redis_down_until == 0.0:
                    log.warning("rate limit: Redis at %s failed (%s: %s); limiting per replica until it is back",
                                redacted(self.redis_url), type(exc).__name__, exc)
                self._redis_down_until = time.monotonic() + REDIS_RETRY
                # The failed attempt may have counted before the reply was lost; the local
                # window below starts from nothing, which errs towards letting the client in.
        wait = self._take(self._local, key)
        self._remember(key)
        return wait

    def _take(self, limiter, key: str) -> float:
        if limiter.hit(self.item, "rolebot", key):
            if limiter is self._shared and self._redis_down_until:
                log.warning("rate limit: Redis at %s is back; limits are shared again", redacted(self.redis_url))
                self._redis_down_until = 0.0
            return 0.0
        reset = limiter.get_window_stats(self.item, "rolebot", key).reset_time
        return max(reset - time.time(), 0.001)

    def _remember(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._seen[key] = now
            self._seen.move_to_end(key)
            # Oldest first: forget clients with nothing left in the window, and the oldest
            # ones beyond max_clients (which then start afresh: memory stays bounded).
            while self._seen:
                first, at = next(iter(self._seen.items()))
                if first == key or (len(self._seen) <= self.max_clients and now - at < self.period):
                    break
                self._seen.popitem(last=False)
                self._local.clear(self.item, "rolebot", first)

    def __len__(self) -> int:
        return len(self._seen)


def _redis_limiter(url: str):
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    if not url.startswith(("redis://", "rediss://", "redis+unix://")):
        raise RolebotError(f"ROLEBOT_REDIS_URL must be a redis:// URL (e.g. redis://127.0.0.1:6379/0), not {redacted(url)!r}")
    try:
        storage = storage_from_string(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
                                      key_prefix="rolebot")
        reachable = storage.check()
    except (ConfigurationError, ValueError) as exc:
        raise RolebotError(f"ROLEBOT_REDIS_URL {redacted(url)!r} is not usable ({exc})") from None
    if not reachable:
        raise RolebotError(f"cannot reach Redis at {redacted(url)} for the shared rate limit: "
                           "start it, fix ROLEBOT_REDIS_URL, or unset it to limit each replica on its own")
    return MovingWindowRateLimiter(storage)


# -- who the client is --------------------------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(spec) -> tuple[Network, ...]:
    """Trusted proxies from a comma list (or list) of addresses or networks: "127.0.0.1, 10.0.0.0/8"."""
    items = spec.split(",") if isinstance(spec, str) else list(spec or [])
    networks = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise RolebotError(f"--trusted-proxy / ROLEBOT_TRUSTED_PROXY takes IP addresses or networks "
                               f"(e.g. 127.0.0.1,10.0.0.0/8), not {item!r}") from None
    return tuple(networks)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(scope: dict, proxies: tuple[Network, ...] = ()) -> str:
    """The address a request is counted against (see the module's docstring)."""
    client = scope.get("client")
    peer = client[0] if client else "-"
    if not proxies or not _trusted(peer, proxies):
        return peer
    # Several X-Forwarded-For lines count as one list, in order (RFC 9110 §5.3).
    hops = [hop.strip() for name, value in scope.get("headers", []) if name.lower() == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")]
    for hop in reversed(hops):
        if hop and not _trusted(hop, proxies):
            return hop[:64]
    return peer
