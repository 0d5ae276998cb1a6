"""YAML/JSON loading with a line and column for every node. The only module that imports ruamel.yaml.

``load_document`` reads one file and returns its data as plain JSON types (dict, list, str, int, float, bool,
None) plus the 1-based position of every value and mapping key, so validation messages can point at the
offending node. Anything wrong with the input -- unreadable, not UTF-8, malformed, several documents, anchors
that loop or explode -- raises ``LoadError`` with a position; never anything else.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

Location = tuple[str | int, ...]
Position = tuple[int, int]  # (line, column), both 1-based

MAX_NODES = 200_000  # alias expansion ("billion laughs") stops here
MAX_BYTES = 1024 * 1024  # a declaration is a few KB: a larger file is refused before it is read or parsed
MAX_DEPTH = 200  # a declaration nests about 6 deep; ruamel takes seconds to give up on 10^5 nested brackets
_BRACKETS = re.compile(r"[\[\]{}]")


class LoadError(ValueError):
    """The file cannot be read or parsed; ``line``/``column`` (1-based) say where."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Document:
    """One loaded file: plain data and where each node stands in the text."""

    file: str
    data: Any
    positions: Mapping[Location, Position] = field(default_factory=dict)
    key_positions: Mapping[Location, Position] = field(default_factory=dict)

    def locate(self, location: Location, *, key: bool = False) -> Position:
        """Position of the node at ``location`` (of its key when ``key``), else of its nearest known ancestor."""
        if key and location in self.key_positions:
            return self.key_positions[location]
        loc = tuple(location)
        while loc:
            if loc in self.positions:
                return self.positions[loc]
            if loc in self.key_positions:
                return self.key_positions[loc]
            loc = loc[:-1]
        return self.positions.get((), (1, 1))


def load_document(path: str | Path, display: str | None = None) -> Document:
    """Read and parse ``path`` (YAML, or JSON which is read the same way). Raises LoadError."""
    name = display if display is not None else str(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise LoadError("not a regular file (a device, FIFO or socket is never read as a declaration)")
        with open(path, "rb") as file:  # never more than the limit read, whatever the size said (/proc files)
            raw = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise LoadError(_too_large())
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line) from exc
    return parse_text(text, name, is_json=str(path).lower().endswith(".json"))


def _too_large() -> str:
    return f"file is too large for a declaration (over the limit of 1 MiB, {MAX_BYTES} bytes): refused before parsing"


def parse_text(text: str, file: str = "<text>", *, is_json: bool = False) -> Document:
    """Parse YAML (or JSON) text into a Document. Raises LoadError."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise LoadError(_too_large())
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise LoadError("binary content (NUL byte): not a YAML or JSON file", line)
    _check_depth(text)
    try:
        node = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as exc:
        if is_json:
            return _parse_json(text, file)
        raise LoadError(_yaml_message(exc), *_mark(exc)) from None
    except RecursionError:
        raise LoadError("document is nested too deeply") from None
    except (YAMLError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        if is_json:
            return _parse_json(text, file)
        raise _long_number(text) or LoadError(f"cannot parse YAML: {_first_line(str(exc)) or type(exc).__name__}") from None
    converter = _Converter()
    try:
        data = converter.convert(node, (), (1, 1))
    except RecursionError:
        raise LoadError("document is nested too deeply") from None
    return Document(file, data, converter.positions, converter.key_positions)


def _check_depth(text: str) -> None:
    """Refuse flow brackets nested past MAX_DEPTH (counted in quoted text too: a real declaration is far below)."""
    depth = 0
    for found in _BRACKETS.finditer(text):
        depth += 1 if found.group() in "[{" else -1
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, found.start()) + 1
            column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
            raise LoadError(f"document is nested too deeply (more than {MAX_DEPTH} levels)", line, column)


def _parse_json(text: str, file: str) -> Document:
    """JSON that YAML rejects (tabs, odd escapes): plain json, positions unknown (line 1)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for k, v in items:
            if k in result:
                raise LoadError(f"duplicate key {k!r}")
            result[k] = v
        return result

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise LoadError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise LoadError("document is nested too deeply") from None
    except ValueError as exc:  # an integer past Python's int-from-string limit
        raise _long_number(text) or LoadError(f"invalid JSON: {_first_line(str(exc))}") from None
    return Document(file, data, {(): (1, 1)}, {})


def _long_number(text: str) -> LoadError | None:
    """The error for the first number too long to read (Python refuses ints of more than 4,300 digits), located."""
    limit = sys.get_int_max_str_digits() or 4300
    found = re.search(r"\d{%d,}" % (limit + 1), text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return LoadError(f"a number of {found.end() - found.start()} digits is too long (at most {limit})", line, column)


def _mark(exc: MarkedYAMLError) -> Position:
    mark = exc.problem_mark or exc.context_mark
    if "<stream end>" in str(exc.problem or "") and exc.context_mark is not None:
        mark = exc.context_mark  # an unclosed bracket: point at where it opened, not at the end of the file
    if mark is None:
        return (1, 1)
    return (int(mark.line) + 1, int(mark.column) + 1)


def _yaml_message(exc: MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "; ".join(_first_line(str(p)) for p in parts) or "malformed YAML"
    if "<stream end>" in str(exc.problem or "") and exc.context_mark is not None:
        message += " (unclosed here)"
    return f"malformed YAML: {message}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class _Converter:
    """Turns ruamel's round-trip nodes into plain JSON types, recording positions on the way."""

    def __init__(self) -> None:
        self.positions: dict[Location, Position] = {}
        self.key_positions: dict[Location, Position] = {}
        self.count = 0
        self.active: set[int] = set()

    def convert(self, node: Any, loc: Location, pos: Position) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise LoadError(f"document has more than {MAX_NODES} nodes (alias expansion?)", *pos)
        self.positions.setdefault(loc, pos)
        if isinstance(node, Mapping):
            return self._mapping(node, loc, pos)
        if isinstance(node, list):
            return self._sequence(node, loc, pos)
        return _scalar(node, pos)

    def _enter(self, node: Any, pos: Position) -> None:
        if id(node) in self.active:
            raise LoadError("recursive alias: a node contains itself", *pos)
        self.active.add(id(node))

    def _mapping(self, node: Mapping[Any, Any], loc: Location, pos: Position) -> dict[str, Any]:
        self._enter(node, pos)
        lc = getattr(node, "lc", None)
        result: dict[str, Any] = {}
        for key, value in node.items():
            key_pos = _lc(lc, "key", key, pos)
            if not isinstance(key, str) or isinstance(key, bool):
                raise LoadError(f"mapping key {key!r} is not a string (quote it)", *key_pos)
            k = str(key)
            self.key_positions[loc + (k,)] = key_pos
            result[k] = self.convert(value, loc + (k,), _lc(lc, "value", key, key_pos))
        self.active.discard(id(node))
        return result

    def _sequence(self, node: list[Any], loc: Location, pos: Position) -> list[Any]:
        self._enter(node, pos)
        lc = getattr(node, "lc", None)
        result = [self.convert(item, loc + (i,), _lc(lc, "item", i, pos)) for i, item in enumerate(node)]
        self.active.discard(id(node))
        return result


def _lc(lc: Any, kind: str, key: Any, default: Position) -> Position:
    try:
        line, col = getattr(lc, kind)(key)
        return (int(line) + 1, int(col) + 1)
    except Exception:  # noqa: BLE001 - ruamel keeps no position for some nodes (merged keys, ...)
        return default


def _scalar(node: Any, pos: Position) -> Any:
    if node is None or isinstance(node, bool):
        return None if node is None else bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        value = float(node)
        if math.isnan(value) or math.isinf(value):
            raise LoadError(f"{value} is not a JSON number", *pos)
        return value
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    if isinstance(node, (bytes, bytearray)):
        raise LoadError("binary (!!binary) values are not supported", *pos)
    raise LoadError(f"unsupported YAML value of type {type(node).__name__} (use plain strings, numbers, lists)", *pos)
