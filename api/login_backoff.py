"""Per-account login back-off: after ASESOR_LOGIN_MAX_FAILURES failed logins of one username, that account
waits ASESOR_LOGIN_BACKOFF_SECONDS (30 s), doubling with each further failure up to
ASESOR_LOGIN_BACKOFF_MAX_SECONDS (15 min); a successful login clears it.

The per-address limit (ASESOR_LOGIN_RATE_LIMIT) stops one machine; this stops many machines guessing one
password. State lives in Redis (when configured), so every API worker and replica sees the same count; the
counter and the wait are updated by one script, so concurrent failures cannot slip past it. Keys hold a hash of
the username, never the name. Unknown usernames are counted exactly like real ones, so the answers (401, then
429 with `Retry-After`) never tell whether an account exists. Without Redis (a development checkout) the state
is per process. If Redis is down the back-off is skipped (logged, rate-limited) rather than locking staff out:
the password check and the per-address limit still apply.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings

log = logging.getLogger("asesor.api")

# a failure is forgotten this long after the last one (or after the wait it caused, whichever ends later)
FAILURE_MEMORY_SECONDS = 3600

# KEYS: failures counter, wait marker. ARGV: max failures, base seconds, cap seconds, memory seconds.
# Returns the wait in milliseconds this failure started (0 while under the threshold).
_FAIL_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
local max, base, cap, memory = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
if n >= max then
  wait = math.floor(math.min(base * 2 ^ (n - max), cap) * 1000)
  redis.call('SET', KEYS[2], '1', 'PX', wait)
end
redis.call('EXPIRE', KEYS[1], memory + math.ceil(wait / 1000))
return wait
"""


@dataclass
class _MemoryState:
    failures: dict[str, tuple[int, float]] = field(default_factory=dict)  # key -> (count, forget at)
    until: dict[str, float] = field(default_factory=dict)  # key -> monotonic end of the wait
    lock: threading.Lock = field(default_factory=threading.Lock)


class LoginBackoff:
    def __init__(
        self,
        *,
        max_failures: int,
        base_seconds: int,
        cap_seconds: int,
        redis: Any | None = None,
        namespace: str = "asesor",
    ) -> None:
        self.max_failures, self.base, self.cap = max_failures, base_seconds, max(cap_seconds, base_seconds)
        self._redis, self._namespace = redis, namespace
        self._script = redis.register_script(_FAIL_SCRIPT) if redis is not None else None
        self._memory = _MemoryState()

    @classmethod
    def from_settings(cls, settings: Settings, *, namespace: str = "asesor") -> LoginBackoff:
        redis = None
        if settings.redis_url:
            from redis import Redis

            # short timeouts: a login must not hang on a stalled Redis (the back-off is then skipped)
            redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return cls(
            max_failures=settings.login_max_failures,
            base_seconds=settings.login_backoff_seconds,
            cap_seconds=settings.login_backoff_max_seconds,
            redis=redis,
            namespace=namespace,
        )

    def _keys(self, username: str) -> tuple[str, str]:
        digest = hashlib.sha256(f"login:{username.strip().lower()}".encode()).hexdigest()[:32]
        return f"{self._namespace}:login:fail:{digest}", f"{self._namespace}:login:wait:{digest}"

    def wait(self, username: str) -> int:
        """Seconds this account must still wait before a password is even checked (0: go ahead)."""
        wait_key = self._keys(username)[1]
        if self._redis is None:
            with self._memory.lock:
                left = self._memory.until.get(wait_key, 0.0) - time.monotonic()
            return math.ceil(left) if left > 0 else 0
        try:
            left_ms = int(self._redis.pttl(wait_key))
        except Exception as exc:  # any Redis failure: skip the back-off, keep the login working
            self._outage(exc)
            return 0
        return math.ceil(left_ms / 1000) if left_ms > 0 else 0

    def failed(self, username: str) -> int:
        """Count a failed login; returns the wait it starts, in seconds (0 while under the threshold)."""
        failures_key, wait_key = self._keys(username)
        if self._redis is None or self._script is None:  # set together in __init__
            return self._failed_in_memory(failures_key, wait_key)
        try:
            wait_ms = int(
                self._script(
                    keys=[failures_key, wait_key],
                    args=[self.max_failures, self.base, self.cap, FAILURE_MEMORY_SECONDS],
                )
            )
        except Exception as exc:
            self._outage(exc)
            return 0
        return math.ceil(wait_ms / 1000)

    def succeeded(self, username: str) -> None:
        failures_key, wait_key = self._keys(username)
        if self._redis is None:
            with self._memory.lock:
                self._memory.failures.pop(failures_key, None)
                self._memory.until.pop(wait_key, None)
            return
        try:
            self._redis.delete(failures_key, wait_key)
        except Exception as exc:
            self._outage(exc)

    def _failed_in_memory(self, failures_key: str, wait_key: str) -> int:
        now = time.monotonic()
        with self._memory.lock:
            if len(self._memory.failures) > 10_000:  # bounded: a flood of made-up names must not grow it
                self._memory.failures.clear()
                self._memory.until.clear()
            count, forget_at = self._memory.failures.get(failures_key, (0, 0.0))
            count = count + 1 if forget_at > now else 1
            wait = min(self.base * 2 ** (count - self.max_failures), self.cap) if count >= self.max_failures else 0
            self._memory.failures[failures_key] = (count, now + FAILURE_MEMORY_SECONDS + wait)
            if wait:
                self._memory.until[wait_key] = now + wait
        return math.ceil(wait)

    def _outage(self, exc: Exception) -> None:
        # rate-limited by core.logging's RepeatFilter: an outage writes a few lines, not one per login
        log.warning(
            "login back-off skipped, Redis unavailable: %s", type(exc).__name__, extra={"throttle": "login-backoff"}
        )

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
