"""Per-bucket Cloud Infinite settings the local server models because the cloud refuses by them: image advanced
compression (AVIF, HEIF/HEIC and TPG output need it enabled on the bucket first, 436/42215) and the style
separators enabled on the bucket (a style name may not contain an enabled separator, 436/119416).

Both are off by default, like a new bucket. They are switched with ``cosrecon local serve --advanced-compression
--style-separators "-_"`` (every bucket of that server) or in-process with ``LocalServer(advanced_compression=,
style_separators=)`` and ``srv.set_bucket_ci(bucket, ...)``. The cloud switches them in the CI console; the API that
reads or writes them was not found in the pages read, so the server offers none and cosrecon's plan warns that it
cannot read them (``declare.rule_warnings``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

ADVANCED_FORMATS = ("avif", "heif", "heic", "tpg")
SEPARATORS = ("-", "_", "!", "/")  # CI's style separators


@dataclass(frozen=True)
class BucketCi:
    """One bucket's settings."""

    advanced_compression: bool = False
    separators: str = ""  # the enabled separators, e.g. "-_"


class CiSettings:
    """Every bucket's settings: a default for buckets never set, and per-bucket changes (thread-safe)."""

    def __init__(self, default: BucketCi = BucketCi()) -> None:
        if any(ch not in SEPARATORS for ch in default.separators):
            raise ValueError(f"style separators are among {' '.join(SEPARATORS)}")
        self._default = default
        self._buckets: dict[str, BucketCi] = {}
        self._lock = threading.Lock()

    def get(self, bucket: str) -> BucketCi:
        with self._lock:
            return self._buckets.get(bucket, self._default)

    def set(self, bucket: str, *, advanced_compression: bool | None = None, separators: str | None = None) -> None:
        if separators is not None and any(ch not in SEPARATORS for ch in separators):
            raise ValueError(f"style separators are among {' '.join(SEPARATORS)}")
        with self._lock:
            current = self._buckets.get(bucket, self._default)
            if advanced_compression is not None:
                current = replace(current, advanced_compression=advanced_compression)
            if separators is not None:
                current = replace(current, separators=separators)
            self._buckets[bucket] = current
