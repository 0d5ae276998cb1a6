"""Pacing of COS requests: a token-bucket rate limit and exponential-backoff retries with full jitter.

For the apply engine and its helpers, which wait for a token; the local server's Cloud Infinite rate limit takes
tokens from the same ``TokenBucket`` and refuses when none is there. This module only waits and retries what it is
given: it must not issue requests itself, keep state beyond a bucket's tokens, print, or decide which errors are
retryable (that is ``StorageError.retryable``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reconciler.errors import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")
PACE = 0.95  # fraction of --max-qps actually paced to


class TokenBucket:
    """Paces calls to ``rate`` per second with bursts of ``burst``. Callers reserve a token and sleep outside the
    lock until it is theirs, so concurrent workers are served in arrival order. ``rate`` 0 means unlimited."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 20)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def reserve(self) -> float:
        """Take a token; returns how long to wait before using it."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            self._refill()
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def try_take(self) -> bool:
        """Take a token if one is there now; False, taking nothing, when the bucket is empty (a server refusing a
        request over its rate, where a client would wait)."""
        return self.try_reserve(0.0) is not None

    def try_reserve(self, max_wait: float) -> float | None:
        """Take a token if it is usable within ``max_wait`` seconds and return the wait; else take nothing and
        return None (a server refusing a request over its rate must not run up a debt)."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            self._refill()
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if wait > max_wait:
                return None
            self._tokens -= 1
            return wait

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter on retryable errors (throttling, 5xx, connection errors)."""

    attempts: int = 8
    base: float = 0.1
    cap: float = 5.0

    def delay(self, attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        return rand(0.0, min(self.cap, self.base * (2 ** attempt)))


def with_retries(fn: Callable[[], T], policy: RetryPolicy, *, limiter: TokenBucket | None = None,
                 on_attempt: Callable[[], None] | None = None, sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, retried per ``policy`` while it raises a retryable ``StorageError``; the last error is raised."""
    attempt = 0
    while True:
        if limiter is not None:
            limiter.acquire()
        if on_attempt is not None:
            on_attempt()
        try:
            return fn()
        except StorageError as error:
            attempt += 1
            if not error.retryable or attempt >= policy.attempts:
                raise
            delay = policy.delay(attempt)
            log.debug("retry %d/%d in %.2fs after %s", attempt, policy.attempts - 1, delay, error.code or error)
            sleep(delay)
