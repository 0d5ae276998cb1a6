"""``--endpoint URL`` checked before anything connects: one clear line for a typo, never an SDK traceback.

An endpoint is ``http://`` or ``https://`` (no scheme: http), a host, and an optional port 1-65535 — nothing else:
COS addresses buckets and keys itself, so a path, query or fragment would be silently dropped.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from reconciler.errors import UsageError

EXAMPLE = "http://127.0.0.1:9000"


def check_endpoint(value: str) -> str:
    """``value`` when it is a usable endpoint URL; UsageError saying what is wrong otherwise."""
    where = f"--endpoint {value!r}"
    if value != value.strip() or any(c.isspace() for c in value):
        raise UsageError(f"{where}: contains spaces; expected a URL such as {EXAMPLE}")
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{where}: the scheme must be http or https, not {parts.scheme!r} (e.g. {EXAMPLE})")
    if not parts.hostname:
        raise UsageError(f"{where}: no host; expected a URL such as {EXAMPLE}")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"{where}: the port must be a number from 1 to 65535") from None
    if port == 0:
        raise UsageError(f"{where}: the port must be a number from 1 to 65535")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError(f"{where}: give only scheme, host and port (e.g. {EXAMPLE}); COS endpoints have no path, "
                         "query or user")
    return value


def endpoint_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The click callback of ``--endpoint`` (and ``$COSRECON_ENDPOINT``)."""
    return None if not value else check_endpoint(value)
