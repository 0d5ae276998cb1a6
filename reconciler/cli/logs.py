"""``-v/--verbose``: cosrecon's logging, quiet by default.

Every module logs to its own ``logging.getLogger(__name__)`` under ``reconciler``; this module alone decides where
that goes: nowhere (warnings only) by default, every DEBUG line on stderr with ``-v`` (requests, retries, lock
events, timings, and the traceback behind an "internal error"). Each line passes through ``credentials.redact``.
The COS SDK logs signing keys, tokens and every header at DEBUG: its loggers (``qcloud_cos``, and ``urllib3``
under it) stay at WARNING whatever ``-v`` says.
"""

from __future__ import annotations

import logging
import sys

from reconciler.credentials import redact

QUIET_LIBRARIES = ("qcloud_cos", "urllib3")  # they log secrets (keys, tokens, signed headers) at DEBUG
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on whatever ``sys.stderr`` is when a line is written (click's test runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class RedactingFormatter(logging.Formatter):
    """A line, its exception text included, with every secret value taken out."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(verbose: bool) -> None:
    """Send ``reconciler``'s log to stderr: DEBUG with ``verbose``, else WARNING and above."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    logger = logging.getLogger("reconciler")
    for handler in [h for h in logger.handlers if getattr(h, "cosrecon", False)]:
        logger.removeHandler(handler)
    handler = _Stderr()
    handler.cosrecon = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False
