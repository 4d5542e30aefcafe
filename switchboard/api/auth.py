"""Who is calling, and how often: the Letta key check and the per-tenant rate limit.

A caller is whoever holds a Letta API key that ``LETTA_BASE_URL`` accepts
(``GET /v1/agents/?limit=1``). Asking Letta on every request would make each
request as slow as Letta and hammer it, so answers are remembered per
SHA-256 of the key (the key itself is never kept as a dictionary key):

- an accepted key for ``ok_ttl`` seconds (a revoked key keeps working that long);
- a refused key for ``bad_ttl`` seconds, so a client retrying a wrong key does
  not turn into a stream of requests to Letta;
- no answer from Letta is not remembered: the next request asks again.

Concurrent first requests with the same key share one check.

The rate limit is a token bucket per tenant (key hash), or per client address
for the few routes that need no key: ``burst`` requests at once, refilled at
``per_minute``. It lives in this process's memory, which is all a single-box
server needs.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from switchboard.exceptions import (
    ConfigError,
    InvalidKeyError,
    LettaPermanentError,
    LettaTransientError,
    LettaUnavailableError,
)
from switchboard.letta import LettaClient

KeyClientFactory = Callable[[str, str], LettaClient]


def key_hash(api_key: str) -> str:
    """The SHA-256 of a key, as hex: how caches and buckets name a caller."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the Letta key (never shown) and its hash."""

    key: str = field(repr=False)
    key_hash: str


@dataclass
class KeyChecker:
    """Checks Letta keys against one Letta server, remembering the answers for a while."""

    base_url: str
    ok_ttl: float = 300.0
    bad_ttl: float = 30.0
    max_entries: int = 10_000
    timeout: float = 10.0
    client_factory: KeyClientFactory | None = None
    clock: Callable[[], float] = time.monotonic
    _answers: OrderedDict[str, tuple[bool, float]] = field(default_factory=OrderedDict, repr=False)
    _pending: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, api_key: str) -> Caller:
        """The caller holding ``api_key``; InvalidKeyError or LettaUnavailableError otherwise."""
        if not api_key or not api_key.isascii() or not api_key.isprintable() or len(api_key) > 4096:
            raise InvalidKeyError("that is not a Letta API key")
        digest = key_hash(api_key)
        known = self._known(digest)
        if known is None:
            with self._pending_lock(digest):
                # Whoever held the lock before us may have just found the answer.
                known = self._known(digest)
                if known is None:
                    known = self._ask_letta(api_key, digest)
        if not known:
            raise InvalidKeyError("Letta refused the key")
        return Caller(api_key, digest)

    def forget(self, api_key: str) -> None:
        """Drop what is remembered about a key."""
        with self._lock:
            self._answers.pop(key_hash(api_key), None)

    def _known(self, digest: str) -> bool | None:
        with self._lock:
            answer = self._answers.get(digest)
            if answer is None:
                return None
            good, until = answer
            if self.clock() >= until:
                del self._answers[digest]
                return None
            return good

    def _pending_lock(self, digest: str) -> threading.Lock:
        with self._lock:
            lock = self._pending.get(digest)
            if lock is None:
                lock = self._pending[digest] = threading.Lock()
                # Locks of keys nobody is checking are dropped once there are many of them.
                if len(self._pending) > self.max_entries:
                    for name in [n for n, held in self._pending.items() if not held.locked() and n != digest]:
                        del self._pending[name]
            return lock

    def _remember(self, digest: str, good: bool) -> None:
        ttl = self.ok_ttl if good else self.bad_ttl
        with self._lock:
            self._answers[digest] = (good, self.clock() + ttl)
            self._answers.move_to_end(digest)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)

    def _client(self, api_key: str) -> LettaClient:
        if self.client_factory is not None:
            return self.client_factory(self.base_url, api_key)
        return LettaClient(self.base_url, api_key, timeout=self.timeout)

    def _ask_letta(self, api_key: str, digest: str) -> bool:
        try:
            with self._client(api_key) as client:
                client.check_key()
        except LettaPermanentError as exc:
            if exc.status in (401, 403):
                self._remember(digest, False)
                return False
            # Letta answered, but not as a Letta server that can judge keys (404, not a list…).
            raise LettaUnavailableError(
                f"this switchboard cannot check API keys: its Letta server answered {exc.status or 'oddly'} "
                "to GET /v1/agents/?limit=1 — the operator should check LETTA_BASE_URL"
            ) from None
        except LettaTransientError:
            raise LettaUnavailableError("could not reach Letta to check the API key — try again in a moment") from None
        except ConfigError:
            raise LettaUnavailableError(
                "this switchboard's LETTA_BASE_URL is not a usable URL — the operator should fix it"
            ) from None
        self._remember(digest, True)
        return True


@dataclass
class RateLimiter:
    """Token buckets by name: ``burst`` at once, refilled at ``per_minute``; off when per_minute <= 0."""

    per_minute: float = 600.0
    burst: int = 120
    max_buckets: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.per_minute > 0 and self.burst > 0

    def take(self, name: str) -> float | None:
        """Take one token from ``name``'s bucket: None when allowed, else seconds until one is free."""
        if not self.enabled:
            return None
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, stamp = self._buckets.get(name, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                self._buckets.move_to_end(name)
                while len(self._buckets) > self.max_buckets:
                    # The least recently used bucket goes; it has refilled the most anyway.
                    self._buckets.popitem(last=False)
                return None
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / rate


def retry_after_header(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
