"""Cloud Infinite's rate limit, fault injection and per-operation request counters for the local server.

The rate limit is part of the service being imitated: a token bucket of ``ci_qps`` tokens per second (burst one
second's worth); a processing call finding it empty gets 503 SlowDown. Injected faults apply to processing calls
only: ``latency_ms`` delay, then ``throttle_rate`` (503 SlowDown) and ``fail_rate`` (500 InternalError),
drawn from one ``random.Random(seed)`` so a seeded run is reproducible.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from reconciler.pacing import TokenBucket


@dataclass(frozen=True)
class FaultSettings:
    """The knobs, all changeable at runtime."""

    ci_qps: float = 100.0
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    throttle_rate: float = 0.0


class Faults:
    """Decides, per processing call, whether it is delayed, throttled or failed."""

    def __init__(self, settings: FaultSettings, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.settings = settings
        self._bucket = _rate_limit(settings.ci_qps)

    def update(self, **changes: float | None) -> None:
        with self._lock:
            current = self.settings
            values = {k: v for k, v in changes.items() if v is not None}
            for name in values:
                if name not in ("ci_qps", "latency_ms", "fail_rate", "throttle_rate"):
                    raise TypeError(f"unknown fault setting {name!r}")
            self.settings = FaultSettings(**{**current.__dict__, **values})
            if "ci_qps" in values:
                self._bucket = _rate_limit(self.settings.ci_qps)

    def admit(self, *, rate_limited: bool = True) -> str | None:
        """Call once per processing request: None to proceed, or the error code to answer with.
        ``rate_limited`` is False for download-time processing (the cloud allows 3000/s there)."""
        with self._lock:
            if rate_limited and not self._bucket.try_take():
                return "SlowDown"
            settings = self.settings
            throttle = self._random.random() < settings.throttle_rate
            fail = self._random.random() < settings.fail_rate
        if settings.latency_ms > 0:
            time.sleep(settings.latency_ms / 1000)
        if throttle:
            return "SlowDown"
        if fail:
            return "InternalError"
        return None


def _rate_limit(ci_qps: float) -> TokenBucket:
    """``ci_qps`` tokens per second, a second's worth at most (0: no limit)."""
    return TokenBucket(ci_qps, burst=max(1.0, ci_qps))


class Stats:
    """Thread-safe counters: one per operation (named after the SDK method: ``put_object``, ``list_objects``,
    ``image_process``, ``ci_put_object``, ``ci_get_object``, ...), ``total`` requests, and ``error:<Code>`` per
    error reply (not part of ``total``). Requests for the stats themselves are not counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def count_request(self) -> None:
        with self._lock:
            self._counts["total"] += 1

    def count_error(self, code: str) -> None:
        with self._lock:
            self._counts[f"error:{code}"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))
