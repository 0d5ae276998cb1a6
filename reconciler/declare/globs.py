"""Glob patterns over object keys, and the fixed prefix to list for each. Pure.

``*`` and ``?`` stay inside one path segment, ``**`` spans segments (``a/**/b`` also matches ``a/b``),
``[...]`` is a character class (``[!...]`` negates); matching is case-sensitive and whole-key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

_META = set("*?[")


class GlobSyntaxError(ValueError):
    """A pattern that cannot be compiled (an unclosed ``[``, ...)."""


def fixed_prefix(pattern: str) -> str:
    """The literal text before the first wildcard: what a listing of this pattern can be limited to."""
    for i, ch in enumerate(pattern):
        if ch in _META:
            return pattern[:i]
    return pattern


def base_dir(pattern: str) -> str:
    """The fixed prefix up to and including its last ``/`` ("" at the root): ``{rel}`` is below it."""
    prefix = fixed_prefix(pattern)
    if prefix == pattern:  # no wildcard: the pattern names one key; its directory is the base
        return pattern[: pattern.rfind("/") + 1]
    return prefix[: prefix.rfind("/") + 1]


def translate(pattern: str) -> str:
    """Translate one glob to a regular-expression source (no anchors)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                at_start = i == 0 or pattern[i - 1] == "/"
                j = i + 2
                if at_start and j < n and pattern[j] == "/":
                    out.append("(?:[^/]*/)*")  # "**/" : zero or more whole segments
                    i = j + 1
                    continue
                if at_start and j == n:
                    out.append(".*")
                    i = j
                    continue
                out.append(".*")
                i = j
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                raise GlobSyntaxError(f"unclosed '[' in pattern {pattern!r}")
            body = pattern[i + 1 : j]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\")
            out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
            i = j + 1
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def compile_globs(patterns: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """One regex matching any of the patterns, or None when there are none."""
    if not patterns:
        return None
    try:
        return re.compile("(?:" + "|".join(f"(?:{translate(p)})" for p in patterns) + r")\Z", re.DOTALL)
    except re.error as exc:  # pragma: no cover - translate() escapes everything it does not build itself
        raise GlobSyntaxError(str(exc)) from exc


@dataclass(frozen=True)
class Selector:
    """A pipeline's source selection: include globs minus exclude globs, never the ledger's prefix."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    never_under: str = ""  # the ledger prefix in the same bucket; "" when the ledger lives elsewhere

    @cached_property
    def _include(self) -> re.Pattern[str] | None:
        return compile_globs(self.include)

    @cached_property
    def _exclude(self) -> re.Pattern[str] | None:
        return compile_globs(self.exclude)

    def matches(self, key: str) -> bool:
        inc = self._include
        if inc is None or inc.match(key) is None:
            return False
        if self.never_under and key.startswith(self.never_under):
            return False
        exc = self._exclude
        return exc is None or exc.match(key) is None

    def base_for(self, key: str) -> str:
        """The base directory of the first include pattern that matches ``key`` (for ``{rel}``)."""
        for pattern in self.include:
            if compile_globs((pattern,)).match(key):  # type: ignore[union-attr]
                return base_dir(pattern)
        return ""

    def list_prefixes(self) -> tuple[str, ...]:
        """The fewest prefixes whose listing covers every include pattern (a prefix inside another drops)."""
        return merge_prefixes(fixed_prefix(p) for p in self.include)


def merge_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Sorted prefixes with every one that lies inside another removed."""
    result: list[str] = []
    for p in sorted(set(prefixes)):
        if result and p.startswith(result[-1]):
            continue
        result.append(p)
    return tuple(result)



