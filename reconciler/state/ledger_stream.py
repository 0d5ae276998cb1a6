"""Reading a format 1 ledger document piece by piece (PURE: no I/O), as older cosrecon versions wrote it.

``json.loads`` of a format 1 ledger of 3 million outputs holds the text and the whole document (a dict per entry):
~4.7 GB. Here the top-level object is walked with ``json.JSONDecoder.raw_decode``: header values are decoded whole,
the ``entries`` array one entry at a time into ``ledger.EntryBuilder``, so only the ``LedgerIndex`` and a piece of
text are held. Any layout of the document is accepted (it is plain JSON); errors name the character offset.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from typing import Any

from reconciler.errors import StateError
from reconciler.state.ledger import EntryBuilder, _check_header, ledger_of
from reconciler.model import Ledger

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


class _Text:
    """The document's text, decoded as pieces arrive; ``pos`` indexes ``buf``; ``done`` is the offset dropped."""

    def __init__(self, first: bytes, chunks: Iterator[bytes], where: str) -> None:
        self.chunks, self.where = chunks, where
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.done, self.eof = "", 0, 0, False
        self._feed(first)

    def _feed(self, data: bytes, final: bool = False) -> None:
        try:
            text = self.decoder.decode(data, final)
        except UnicodeDecodeError as error:
            raise StateError(f"{self.where}: not valid JSON (not UTF-8: {error})") from None
        self.done += self.pos
        self.buf, self.pos = self.buf[self.pos:] + text, 0

    def more(self) -> bool:
        """Read another piece; False at the end of the document."""
        if self.eof:
            return False
        chunk = next(self.chunks, None)
        if chunk is None:
            self.eof = True
            self._feed(b"", final=True)
        else:
            self._feed(chunk)
        return True

    def error(self, what: str) -> StateError:
        return StateError(f"{self.where}: not valid JSON ({what} at char {self.done + self.pos})")

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos:self.pos + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def value(self) -> Any:
        """The next JSON value; more text is read while it may be cut short (a number needs a character after)."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:
                    self.pos = end
                    return value
            except json.JSONDecodeError as error:
                if self.eof:
                    raise StateError(f"{self.where}: not valid JSON ({error.msg} at char {self.done + error.pos})"
                                     ) from None
            self.more()


def read_document(first: bytes, chunks: Iterator[bytes], where: str,
                  other: Callable[[dict[str, Any]], Ledger]) -> Ledger:
    """A format 1 ledger from its text: ``first`` then ``chunks``. A document of format 2 laid out otherwise than
    as written (no ``entries``) is decoded whole and given to ``other``."""
    text = _Text(first, chunks, where)
    header: dict[str, Any] = {}
    builder = EntryBuilder(where)
    text.expect("{")
    while text.peek() != "}":
        if header:
            text.expect(",")
        key = text.value()
        if not isinstance(key, str):
            raise text.error("expected a name")
        text.expect(":")
        if key != "entries":
            header[key] = text.value()
            if key in ("kind", "format_version"):  # refuse early what is not a ledger of format 1 or 2
                probe = dict(header)
                if probe.get("format_version", 2) == 2:
                    probe["format_version"] = 1
                _check_header(probe, "ledger", where)
            continue
        header["entries"] = None
        if text.peek() != "[":
            raise StateError(f"{where}: entries must be a list")
        text.pos += 1
        index = 0
        while text.peek() != "]":
            if index:
                text.expect(",")
            builder.add(index, text.value())
            index += 1
        text.pos += 1
    text.pos += 1
    if text.peek() != "":
        raise text.error("extra data after the document")
    if header.get("format_version") == 2 and "entries" not in header:
        return other(header)
    _check_header(header, "ledger", where)
    return ledger_of(header, builder, where)
