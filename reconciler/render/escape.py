"""The one escaping of untrusted text for people: keys, names and messages in terminals, logs and comments.

Keys are written by whoever can upload into a bucket. A key holding a newline would split a line of a text or
markdown plan (forging plan lines in a pull request); ``ESC[31m`` would reach the terminal raw; a bidi override
(U+202E) would show a line in another order than it reads. ``escape_text`` shows each such character as a
visible escape: ``\\n`` ``\\r`` ``\\t``, ``\\xNN`` for the other C0 controls, DEL and the C1 controls, ``\\uNNNN``
for bidi controls and the Unicode line and paragraph separators. Everything else (backslashes included) is left
as it is, so escaping twice changes nothing; JSON output is never escaped this way: it keeps every key exact.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """``text`` with every control, bidi and line-separator character shown as an escape (one line out)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def escape_lines(lines: list[str]) -> list[str]:
    """Each line escaped: a line break inside one (from a key, a name, a message) stays visible, not a break."""
    return [escape_text(line) for line in lines]
