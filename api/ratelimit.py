"""Rate limits at the HTTP edge: token buckets per bearer token and per client address, and a
much tighter one for failed authentication per address.

- every request but the health probes takes one unit from its client address's bucket
  (LICENSEFLOW_IP_RATE per second, bursts of LICENSEFLOW_IP_BURST);
- a request with a bearer token also takes one from the token's bucket
  (LICENSEFLOW_TOKEN_RATE, LICENSEFLOW_TOKEN_BURST), keyed by a hash of the token;
- each 401 answered to a request that carried a token takes one unit from the address's
  failure bucket (LICENSEFLOW_AUTH_FAILURES_PER_MINUTE, refilled over a minute). While it is
  empty, requests from that address with a token not seen to authenticate recently are
  answered 429 before the token is looked up, so guessing tokens costs no database work;
  a colleague behind the same address with a valid token is not locked out.

Codec calls (`/codec/*`, ops and admin only) take from buckets of their own, per token and
per address (LICENSEFLOW_CODEC_RATE, LICENSEFLOW_CODEC_BURST): the `temporal` CLI and the
Web UI send one call per payload, hundreds for a long history, which would otherwise exhaust
the token's API budget; the failed-authentication bucket applies to them as to any call.

Each kind keeps at most LICENSEFLOW_RATE_LIMIT_KEYS keys (least recently used first out),
so memory stays bounded whatever the callers send. Throttled requests get a 429 problem
with Retry-After (whole seconds). LICENSEFLOW_RATE_LIMIT=off disables all of it (tests and
benchmarks that drive one token hard). Limits are per API process.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import client_ip
from api.problems import problem_response
from licenseflow.config import Settings

Clock = Callable[[], float]
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
"""Probes of load balancers and orchestrators are never throttled."""
CODEC_PREFIX = "/codec/"
"""Paths whose calls take from the codec buckets."""


class TokenBuckets:
    """A token bucket per key (`rate` units per second up to `burst`), at most `max_keys`
    keys: the least recently used key is forgotten first (it comes back full)."""

    def __init__(self, rate: float, burst: float, max_keys: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def level(self, key: bytes, now: float) -> float:
        """Units available for `key` now (the burst for an unknown key)."""
        found = self._buckets.get(key)
        if found is None:
            return self.burst
        units, at = found
        return min(self.burst, units + max(0.0, now - at) * self.rate)

    def wait(self, key: bytes, now: float) -> float:
        """Seconds until `key` has one unit; 0 when it has one now."""
        return max(0.0, (1.0 - self.level(key, now)) / self.rate)

    def take(self, key: bytes, now: float) -> float:
        """Take one unit: 0 when taken, else the seconds to wait (nothing is taken)."""
        units = self.level(key, now)
        taken = units >= 1.0
        self._store(key, units - 1.0 if taken else units, now)
        return 0.0 if taken else (1.0 - units) / self.rate

    def spend(self, key: bytes, now: float) -> None:
        """Take one unit even if none is left (down to 0): a failure that happened."""
        self._store(key, max(0.0, self.level(key, now) - 1.0), now)

    def _store(self, key: bytes, units: float, now: float) -> None:
        self._buckets[key] = (units, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)


class RecentKeys:
    """A bounded set of keys, least recently added/seen dropped first."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._keys: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, key: bytes) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: bytes) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def discard(self, key: bytes) -> None:
        self._keys.pop(key, None)


class RateLimiter:
    """The limits of one API process (see the module docstring)."""

    def __init__(self, settings: Settings, clock: Clock = time.monotonic) -> None:
        keys = settings.rate_limit_keys
        self.enabled = settings.rate_limit
        self.clock = clock
        self.by_token = TokenBuckets(settings.token_rate, settings.token_burst, keys)
        self.by_address = TokenBuckets(settings.ip_rate, settings.ip_burst, keys)
        self.codec_by_token = TokenBuckets(settings.codec_rate, settings.codec_burst, keys)
        self.codec_by_address = TokenBuckets(settings.codec_rate, settings.codec_burst, keys)
        per_minute = settings.auth_failures_per_minute
        self.failures = TokenBuckets(per_minute / 60.0, per_minute, keys)
        self.authenticated = RecentKeys(keys)

    def admit(
        self, address: bytes, token: bytes | None, *, codec: bool = False
    ) -> tuple[float, str] | None:
        """None to let the request in, else (seconds to wait, why). `codec`: a codec call,
        counted in the codec buckets."""
        now = self.clock()
        if token is not None and token not in self.authenticated:
            if self.failures.level(address, now) < 1.0:
                wait = self.failures.wait(address, now)
                return wait, "too many failed authentications from this address"
        by_address, by_token = (
            (self.codec_by_address, self.codec_by_token)
            if codec
            else (self.by_address, self.by_token)
        )
        wait = by_address.take(address, now)
        if wait:
            return wait, "too many requests from this address"
        if token is not None:
            wait = by_token.take(token, now)
            if wait:
                return wait, "too many requests with this token"
        return None

    def answered(self, address: bytes, token: bytes, status: int, authenticated: bool) -> None:
        """Learn from the answer to a request that carried a token."""
        if status == 401:
            self.failures.spend(address, self.clock())
            self.authenticated.discard(token)
        elif authenticated:
            self.authenticated.add(token)


def bearer_token(scope: Scope) -> bytes | None:
    """The credentials of the (first) Authorization header, or None without one."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            value = value.strip()
            return value or None
    return None


def token_key(credentials: bytes) -> bytes:
    """Buckets are keyed by a hash: the limiter never holds a token in memory."""
    return hashlib.blake2b(credentials, digest_size=16).digest()


class RateLimitMiddleware:
    """429 problem+json with Retry-After for callers over their limits."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limiter
        if scope["type"] != "http" or not limiter.enabled or scope.get("path") in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        address = (client_ip(scope) or "-").encode()
        credentials = bearer_token(scope)
        token = token_key(credentials) if credentials is not None else None
        codec = str(scope.get("path", "")).startswith(CODEC_PREFIX)
        refused = limiter.admit(address, token, codec=codec)
        if refused is not None:
            wait, why = refused
            seconds = max(1, math.ceil(wait))
            response = problem_response(
                Request(scope),
                429,
                f"{why}; retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
            await response(scope, receive, send)
            return
        if token is None:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            authenticated = scope.get("state", {}).get("principal") is not None
            limiter.answered(address, token, status, authenticated)
