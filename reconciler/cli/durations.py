"""Durations on the command line (``--lock-timeout``): ``90``, ``30s``, ``5m``, ``1h``, ``1h30m``, ``2m30s``."""

from __future__ import annotations

import re
from typing import Any

import click

_PART = re.compile(r"(\d+(?:\.\d+)?)([hms]?)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[hms])+|\d+(?:\.\d+)?")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number (seconds), or parts with units h, m, s in any combination (``1h30m``).
    ValueError when it is none of those."""
    compact = text.strip().replace(" ", "")
    if not _WHOLE.fullmatch(compact):
        raise ValueError(f"{text!r}: expected a duration such as 90, 30s, 5m, 1h or 1h30m")
    return sum(float(n) * _SECONDS[unit] for n, unit in _PART.findall(compact))


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.2
    """A click type for durations; shown as DURATION in help."""

    name = "duration"

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        return "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


DURATION = Duration()
