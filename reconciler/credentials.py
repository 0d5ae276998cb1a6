"""The credentials a run signs with: checked once, for the CLI (environment) and Pulumi (stack secrets) alike.

Exactly one of ``TENCENTCLOUD_SECRET_ID``/``TENCENTCLOUD_SECRET_KEY`` set is an error naming the missing one (never
a silent fall-back to the local server's public pair). A credential or token with whitespace or a control
character (a trailing newline from ``$(cat file)``) is refused without printing it: requests would otherwise put
the whole header, secret included, in its error text. ``redact`` takes secret values out of any message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from reconciler.errors import UsageError

ENV_SECRET_ID = "TENCENTCLOUD_SECRET_ID"
ENV_SECRET_KEY = "TENCENTCLOUD_SECRET_KEY"
ENV_TOKEN = "TENCENTCLOUD_SECURITY_TOKEN"
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def check_value(name: str, value: str | None) -> None:
    """Refuse a credential with whitespace or control characters, naming it but never showing it."""
    if value and _UNSAFE.search(value):
        where = "surrounding whitespace" if value.strip() != value and not _UNSAFE.search(value.strip()) \
            else "whitespace or a control character (e.g. a newline)"
        raise UsageError(f"{name} contains {where}; remove it (the value is not shown)")


def check_pair(secret_id: str | None, secret_key: str | None, token: str | None = None, *,
               names: tuple[str, str, str] = (ENV_SECRET_ID, ENV_SECRET_KEY, ENV_TOKEN)) -> None:
    """Both or neither of id and key; no unsafe character in any of the three."""
    if bool(secret_id) != bool(secret_key):
        missing, present = (names[1], names[0]) if secret_id else (names[0], names[1])
        raise UsageError(f"{present} is set but {missing} is not: set both (cosrecon never falls back to another "
                         f"credential, such as the local server's public pair)")
    for name, value in zip(names, (secret_id, secret_key, token)):
        check_value(name, value)


def environment() -> tuple[str | None, str | None, str | None]:
    """The environment's credentials, checked: (id, key, token), each None when unset or empty."""
    found = tuple(os.environ.get(n) or None for n in (ENV_SECRET_ID, ENV_SECRET_KEY, ENV_TOKEN))
    check_pair(*found)
    return found[0], found[1], found[2]


def redact(message: str, secrets: Iterable[str | None] = ()) -> str:
    """``message`` with every secret value (the environment's, and ``secrets``) replaced by ``<redacted>``."""
    values = [os.environ.get(ENV_SECRET_KEY), os.environ.get(ENV_TOKEN), *secrets]
    for value in sorted({v.strip() for v in values if v and len(v.strip()) >= 6}, key=len, reverse=True):
        message = message.replace(value, "<redacted>")
    return message
