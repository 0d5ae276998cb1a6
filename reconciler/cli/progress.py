"""Apply progress on stderr — the only module that imports tqdm.

On a terminal: a tqdm bar (done/total outputs, calls/s, ETA, failures). Otherwise: one plain line a minute (outputs
done, calls made, their rate, failures, ETA), so a CI log of a five-hour run shows progress without control
characters and without flooding. Every text shown goes through
``render.escape.escape_text`` (a key or message in a line must not move the cursor or split the line).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

from reconciler.render.escape import escape_text


class BarProgress:
    """A tqdm bar over outputs; the postfix shows calls/s and failures."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: tqdm | None = None
        self.calls = self.failed = 0
        self.started = time.monotonic()

    def start(self, total: int) -> None:
        self.started = time.monotonic()
        self.bar = tqdm(total=total, unit="out", file=self.stream, dynamic_ncols=True, leave=False,
                        desc="apply", disable=total == 0)

    def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None:
        self.calls += calls
        self.failed += failed
        if self.bar is not None:
            rate = self.calls / max(1e-6, time.monotonic() - self.started)
            self.bar.set_postfix_str(escape_text(f"{rate:.1f} calls/s, {self.failed} failed"), refresh=False)
            self.bar.update(done + failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LineProgress:
    """``apply: 120/600 outputs, 40 calls (12.3 calls/s), 2 failed, ETA 30s`` every ``interval`` seconds."""

    def __init__(self, stream: TextIO, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.interval, self.clock = stream, interval, clock
        self.total = self.done = self.calls = self.failed = 0
        self.started = self.last = clock()

    def start(self, total: int) -> None:
        self.total = total
        self.started = self.last = self.clock()

    def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None:
        self.done += done + failed
        self.failed += failed
        self.calls += calls
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.stream.write(escape_text(self.line(now)) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(1e-6, now - self.started)
        rate = self.calls / elapsed
        remaining = self.total - self.done
        eta = f", ETA {_span(remaining * elapsed / self.done)}" if self.done and remaining > 0 else ""
        return (f"apply: {self.done}/{self.total} outputs, {self.calls} calls ({rate:.1f} calls/s), "
                f"{self.failed} failed{eta}")

    def close(self) -> None:
        pass


def _span(seconds: float) -> str:
    """``45s``, ``12m05s``, ``27h46m``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def make_progress(stream: TextIO | None = None, *, quiet: bool = False) -> BarProgress | LineProgress | None:
    """A bar on a terminal, plain lines otherwise, nothing when ``quiet``."""
    if quiet:
        return None
    stream = stream or sys.stderr
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)
