"""A bit-parallel automaton for the globs ``globs`` cannot turn into a linear regex (a ``**`` inside a segment). Pure.

The automaton has one state per token (plus the accepting one); the set of live states is one integer, so each
character of a key costs a handful of integer operations whatever the pattern: time is linear in the key, there
is no backtracking at all. Tokens come from ``globs.tokenize`` (kinds ``atom``, ``slash``, ``star``, ``any``,
``dirs``); ``dirs`` (zero or more whole segments, ``(?:[^/]*/)*``) takes two states: at a segment start (the one that may
be left without reading anything) and inside a segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NfaToken:
    kind: str
    source: str = ""


class GlobNfa:
    """``match(key)``: does the whole key match the tokens?"""

    def __init__(self, tokens: list[NfaToken]) -> None:
        atoms: list[tuple[int, re.Pattern[str]]] = []
        skip1 = skip2 = loop_any = loop_segment = dirs = 0
        state = 0
        for token in tokens:
            bit = 1 << state
            if token.kind in ("atom", "slash"):
                atoms.append((state, re.compile(token.source, re.DOTALL)))
            elif token.kind == "star":
                loop_segment |= bit
                skip1 |= bit
            elif token.kind == "any":
                loop_any |= bit
                skip1 |= bit
            else:  # dirs: this state at a segment start, the next one inside a segment
                dirs |= bit
                skip2 |= bit
                state += 1
            state += 1
        self._atoms = tuple(atoms)
        self._accept = 1 << state
        self._skip1, self._skip2 = skip1, skip2
        self._loop_any, self._loop_segment, self._dirs = loop_any, loop_segment, dirs
        self._masks: dict[str, int] = {}
        self._start = self._closure(1)

    def _mask(self, ch: str) -> int:
        """The atom states that accept ``ch`` (worked out once per distinct character)."""
        mask = self._masks.get(ch)
        if mask is None:
            mask = 0
            for state, regex in self._atoms:
                if regex.fullmatch(ch):
                    mask |= 1 << state
            if len(self._masks) < 4096:
                self._masks[ch] = mask
        return mask

    def _closure(self, live: int) -> int:
        while True:
            grown = live | ((live & self._skip1) << 1) | ((live & self._skip2) << 2)
            if grown == live:
                return live
            live = grown

    def match(self, key: str) -> bool:
        live = self._start
        for ch in key:
            loops = self._loop_any if ch == "/" else self._loop_any | self._loop_segment
            in_dirs = (live & self._dirs) | ((live >> 1) & self._dirs)  # either state of a dirs, as its first bit
            dirs = in_dirs if ch == "/" else in_dirs << 1
            live = self._closure(((live & self._mask(ch)) << 1) | (live & loops) | dirs)
            if not live:
                return False
        return bool(live & self._accept)
