"""Cloud Infinite's rate limit, fault injection and per-operation request counters for the local server.

The rate limit is part of the service being imitated: a token bucket of ``ci_qps`` tokens per second (burst one
second's worth); a processing call finding it empty gets 503 SlowDown. Injected faults apply to processing calls
only: ``latency_ms`` delay, then ``throttle_rate`` (503 SlowDown) and ``fail_rate`` (500 InternalError),
drawn from one ``random.Random(seed)`` so a seeded run is reproducible. ``throttle_as`` picks the form a throttled
call is answered in (``THROTTLE_FORMS``): the status of a throttled persistent-processing call is not documented,
so the client must retry each of them (``declare.ci_errors``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from reconciler.pacing import TokenBucket


THROTTLE_FORMS = ("SlowDown", "TooManyRequests", "-60949")  # 503 SlowDown, 429, CI's "requests too frequent"


@dataclass(frozen=True)
class FaultSettings:
    """The knobs, all changeable at runtime."""

    ci_qps: float = 100.0
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_as: str = "SlowDown"  # one of THROTTLE_FORMS


class Faults:
    """Decides, per processing call, whether it is delayed, throttled or failed."""

    def __init__(self, settings: FaultSettings, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.settings = settings
        self._bucket = _rate_limit(settings.ci_qps)

    def update(self, **changes: float | str | None) -> None:
        with self._lock:
            current = self.settings
            values = {k: v for k, v in changes.items() if v is not None}
            for name in values:
                if name not in ("ci_qps", "latency_ms", "fail_rate", "throttle_rate", "throttle_as"):
                    raise TypeError(f"unknown fault setting {name!r}")
            if values.get("throttle_as", THROTTLE_FORMS[0]) not in THROTTLE_FORMS:
                raise ValueError(f"throttle_as must be one of {', '.join(THROTTLE_FORMS)}")
            self.settings = FaultSettings(**{**current.__dict__, **values})  # type: ignore[arg-type]
            if "ci_qps" in values:
                self._bucket = _rate_limit(self.settings.ci_qps)

    def admit(self, *, rate_limited: bool = True) -> str | None:
        """Call once per processing request: None to proceed, or the error code to answer with (a throttled call:
        ``throttle_as``). ``rate_limited`` is False for download-time processing (the cloud allows 3000/s there)."""
        with self._lock:
            if rate_limited and not self._bucket.try_take():
                return self.settings.throttle_as
            settings = self.settings
            throttle = self._random.random() < settings.throttle_rate
            fail = self._random.random() < settings.fail_rate
        if settings.latency_ms > 0:
            time.sleep(settings.latency_ms / 1000)
        if throttle:
            return settings.throttle_as
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
