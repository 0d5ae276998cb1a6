"""Glob patterns over object keys, and the fixed prefix to list for each. Pure.

``*`` and ``?`` stay inside one path segment, ``**`` spans segments (``a/**/b`` also matches ``a/b``),
``[...]`` is a character class (``[!...]`` negates); matching is case-sensitive and whole-key.

Keys are written by whoever can upload, so matching must never backtrack catastrophically (``x/*a*a*a*a*ab``
against a 100-character key took seconds with a plain regex translation). A pattern is compiled to a regex in
which every choice is committed once it is made (atomic groups): each chunk between two ``*`` of a segment is
matched at its leftmost place, and each run of whole segments between ``**/`` at the first segment where it
fits. Both choices are safe (what follows is a wildcard that absorbs whatever the leftmost choice leaves), so the
result is that of the plain translation, in time about (key length x pattern length). One ``**`` inside a segment
(``photos/**.jpg``) is ``(?:[^/]*/)*[^/]*`` before a pinned end; patterns with more such ``**`` (``a**b**c``), or
with ``**/`` too, run on ``globnfa``: a bit-parallel automaton, linear in the key, slower but never stalling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cached_property, lru_cache

from reconciler.declare.globnfa import GlobNfa, NfaToken

_META = set("*?[")


class GlobSyntaxError(ValueError):
    """A pattern that cannot be compiled (an unclosed ``[``, ...)."""


class Kind(str, Enum):
    ATOM = "atom"  # one character: a literal, ``?`` or a class (never "/")
    SLASH = "slash"  # a literal "/"
    STAR = "star"  # ``*``: any run inside one segment
    ANY = "any"  # ``**`` not standing for whole segments: any run, across segments
    DIRS = "dirs"  # ``**/`` at a segment start: zero or more whole segments


@dataclass(frozen=True)
class Token:
    kind: Kind
    source: str = ""  # regex source of an ATOM or SLASH


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


def tokenize(pattern: str) -> list[Token]:
    """The pattern as tokens, runs of wildcards reduced to the one they amount to (``***`` is ``**``)."""
    out: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if pattern.startswith("**", i):
            at_start = i == 0 or pattern[i - 1] == "/"
            if at_start and i + 2 < n and pattern[i + 2] == "/":
                _push(out, Token(Kind.DIRS))
                i += 3
            else:
                _push(out, Token(Kind.ANY))
                i += 2
            continue
        if ch == "[":
            i = _class(pattern, i, out)
            continue
        if ch == "*":
            _push(out, Token(Kind.STAR))
        elif ch == "?":
            out.append(Token(Kind.ATOM, "[^/]"))
        else:
            out.append(Token(Kind.SLASH if ch == "/" else Kind.ATOM, re.escape(ch)))
        i += 1
    return out


def _class(pattern: str, i: int, out: list[Token]) -> int:
    """Append the class starting at ``pattern[i] == "["``; return the index after its ``]``."""
    n = len(pattern)
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
    body = (body[1:] if negate else body).replace("\\", "\\\\")
    source = f"[^/{body}]" if negate else f"(?!/)[{body}]"
    try:
        re.compile(source)
    except re.error as exc:
        raise GlobSyntaxError(f"invalid character class [{pattern[i + 1 : j]}] in pattern {pattern!r}: {exc}") from exc
    out.append(Token(Kind.ATOM, source))
    return j + 1


_GAPS = (Kind.STAR, Kind.ANY, Kind.DIRS)


def _push(out: list[Token], token: Token) -> None:
    """Append a wildcard, merging it with a wildcard just before it (the pair matches what the wider one does)."""
    last = out[-1].kind if out else None
    if last not in _GAPS:
        out.append(token)
    elif token.kind is Kind.ANY or last is Kind.ANY:
        out[-1] = Token(Kind.ANY)
    elif not (last is Kind.DIRS and token.kind is Kind.DIRS):
        out.append(token)  # "**/" then "*": kept as two


def _segment(tokens: list[Token], end: str) -> str:
    """Regex of one segment's tokens (atoms and ``*``), then ``end``: each chunk but the last at its leftmost."""
    chunks: list[str] = [""]
    for t in tokens:
        if t.kind is Kind.STAR:
            chunks.append("")
        else:
            chunks[-1] += t.source
    if len(chunks) == 1:
        return chunks[0] + end
    if len(chunks) == 2 and end in ("/", r"\Z"):  # one "*" and a pinned end: one way to match at most
        return f"{chunks[0]}[^/]*{chunks[1]}{end}"
    middle = "".join(f"(?>[^/]*?{c})" for c in chunks[1:-1])
    last = f"[^/]*{chunks[-1]}" if end in ("/", r"\Z") else f"(?>[^/]*?{chunks[-1]})"  # an open end: leftmost
    return f"(?>{chunks[0]}{middle}{last}{end})"


def _run(tokens: list[Token], end: str) -> str:
    """Regex of a run of segments (no ``**``): every segment but the last ends at its "/"."""
    segments: list[list[Token]] = [[]]
    for t in tokens:
        if t.kind is Kind.SLASH:
            segments.append([])
        else:
            segments[-1].append(t)
    return "".join(_segment(s, "/") for s in segments[:-1]) + _segment(segments[-1], end)


def to_regex(tokens: list[Token]) -> str | None:
    """Regex source that matches a whole key in linear time, or None when a ``**`` sits inside a segment."""
    end = r"\Z"
    if tokens and tokens[-1].kind is Kind.ANY:
        tokens, end = tokens[:-1], ".*"
    anys = [i for i, t in enumerate(tokens) if t.kind is Kind.ANY]
    if len(anys) == 1 and not any(t.kind is Kind.DIRS for t in tokens):  # "a/**.jpg": "**" = (?:[^/]*/)*[^/]*
        before, after = tokens[: anys[0]], [Token(Kind.STAR), *tokens[anys[0] + 1 :]]
        return _run(before, "") + f"(?:[^/]*+/)*{_run(after, end)}"
    if anys:
        return None
    runs: list[list[Token]] = [[]]
    for t in tokens:
        if t.kind is Kind.DIRS:
            runs.append([])
        else:
            runs[-1].append(t)
    if len(runs) == 1:
        return _run(runs[0], end)
    middle = "".join(f"(?>(?:[^/]*+/)*?{_run(r, '')})" for r in runs[1:-1])
    return _run(runs[0], "") + middle + f"(?:[^/]*+/)*{_run(runs[-1], end)}"  # the last run ends the key


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> tuple[str, GlobNfa | None]:
    """One pattern's regex source, or ("", its automaton): worked out once (checks and plans ask again and again)."""
    tokens = tokenize(pattern)
    source = to_regex(tokens)
    if source is None:
        return "", GlobNfa([NfaToken(t.kind.value, t.source) for t in tokens])
    return source, None


@dataclass(frozen=True)
class Glob:
    """Compiled patterns: ``match(key)`` is true when any of them matches the whole key."""

    regex: re.Pattern[str] | None
    others: tuple[GlobNfa, ...] = ()

    def match(self, key: str) -> bool:
        if self.regex is not None and self.regex.match(key) is not None:
            return True
        for nfa in self.others:  # a loop, not any(): no generator on the planner's hot path
            if nfa.match(key):
                return True
        return False


def compile_globs(patterns: tuple[str, ...] | list[str]) -> Glob | None:
    """One matcher for any of the patterns, or None when there are none. Raises GlobSyntaxError."""
    if not patterns:
        return None
    sources: list[str] = []
    others: list[GlobNfa] = []
    for pattern in patterns:
        source, nfa = _compiled(pattern)
        if nfa is not None:
            others.append(nfa)
        else:
            sources.append(f"(?:{source})")
    regex = re.compile("|".join(sources), re.DOTALL) if sources else None
    return Glob(regex, tuple(others))


@dataclass(frozen=True)
class Selector:
    """A pipeline's source selection: include globs minus exclude globs, never the ledger's prefix."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    never_under: str = ""  # the ledger prefix in the same bucket; "" when the ledger lives elsewhere

    @cached_property
    def _include(self) -> Glob | None:
        return compile_globs(self.include)

    @cached_property
    def _exclude(self) -> Glob | None:
        return compile_globs(self.exclude)

    def matches(self, key: str) -> bool:
        inc = self._include
        if inc is None or not inc.match(key):
            return False
        if self.never_under and key.startswith(self.never_under):
            return False
        exc = self._exclude
        return exc is None or not exc.match(key)

    def base_for(self, key: str) -> str:
        """The base directory of the first include pattern that matches ``key`` (for ``{rel}``)."""
        for pattern in self.include:
            glob = compile_globs((pattern,))
            if glob is not None and glob.match(key):
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
