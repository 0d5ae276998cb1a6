"""Globs as RE2 regular expressions (PURE): what DuckDB's ``regexp_full_match`` runs over a key column.

RE2 runs in time linear in the key whatever the pattern, so a glob translates plainly (the committed choices
``declare.globs`` needs for Python's backtracking ``re`` are not needed, nor is ``globnfa`` for ``**`` inside a
segment): ``*`` is ``[^/]*``, ``?`` is ``[^/]``, ``**`` inside a segment ``.*`` (with ``(?s)``: keys may hold
newlines), ``**/`` at a segment start ``(?:[^/]*/)*``. Literals are written as ``\\x{...}`` escapes unless they
are ASCII letters or digits. A character class is kept as written when RE2 reads it as Python does: one whose
body holds ``[`` (RE2 reads ``[:alpha:]`` as a POSIX class) or, not negated, could match ``/`` (Python's
translation excludes it with a lookahead, which RE2 lacks) has no translation (``None``): such sets are planned by
the Python planner.
"""

from __future__ import annotations

import re
from functools import lru_cache

from reconciler.declare.globs import Kind, Token, tokenize

_POSITIVE = "(?!/)["


def _literal(ch: str) -> str:
    return ch if ch.isascii() and ch.isalnum() else f"\\x{{{ord(ch):x}}}"


def _atom(token: Token) -> str | None:
    """The RE2 source of one ATOM token (a literal, ``?`` or a class), from its Python source."""
    source = token.source
    if source == "[^/]":
        return source
    if source.startswith(_POSITIVE):
        body = source[len(_POSITIVE):-1]
        if "[" in body or re.fullmatch(f"[{body}]", "/"):
            return None
        return f"[{body}]"
    if source.startswith("[^/"):
        return None if "[" in source[3:-1] else source
    return _literal(source[1] if len(source) == 2 and source[0] == "\\" else source)


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> str | None:
    """The RE2 source that fully matches the keys ``pattern`` matches, or None when it has no translation."""
    parts = ["(?s)"]
    for token in tokenize(pattern):
        if token.kind is Kind.ATOM:
            atom = _atom(token)
            if atom is None:
                return None
            parts.append(atom)
        elif token.kind is Kind.SLASH:
            parts.append("/")
        elif token.kind is Kind.STAR:
            parts.append("[^/]*")
        elif token.kind is Kind.ANY:
            parts.append(".*")
        else:
            parts.append("(?:[^/]*/)*")
    return "".join(parts)


def any_regex(patterns: tuple[str, ...] | list[str]) -> str | None:
    """One RE2 source matching what any of ``patterns`` matches ("" for none); None when one has no translation."""
    sources = [glob_regex(p) for p in patterns]
    if any(s is None for s in sources):
        return None
    return "|".join(f"(?:{s})" for s in sources if s is not None)
