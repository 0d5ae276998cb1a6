"""The compact ledger file (``format_version`` 2, PURE: no I/O): written once per value, read line by line.

A million sources x 3 outputs in ``format_version`` 1 (one indented object per entry) is ~1 GB, and reading it held
the bytes, the decoded text and the whole parsed document at once. Format 2 is still one JSON document, laid out
one source per line so it is read a piece at a time, building the ``LedgerIndex`` as it goes::

    {"format_version":2,"kind":"ledger","name":"catalog","generation":"3","declaration":{...}|null,
     "outputs":[[bucket,address,fingerprint],...],"made_at":["2026-01-01T00:00:00Z",...],"count":3,"groups":[
    [source_key,source_etag,[[output,key,output_etag,made_at],...]],
    ...
    [source_key,source_etag,[[output,key,output_etag,made_at],...]]
    ]}

(the header is the first line). ``output`` indexes the header's ``outputs`` (destination bucket,
``pipeline.output``, rule fingerprint), ``made_at`` its ``made_at``; ``count`` is the number of entries, so a
truncated file is refused. Format 1 documents, and format 2 laid out otherwise (re-indented by hand), are read by
``ledger_stream``. Schema: ``schemas/ledger.schema.json``.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.errors import StateError
from reconciler.state import ledger_stream
from reconciler.state.index import KEYS, LAYOUT, SOURCE, ChangedEntries, Group, LedgerIndex, etag_at
from reconciler.model import Ledger, LedgerEntry

LINES_VERSION = 2
_CHUNK = 1 << 20  # bytes of lines parsed per json.loads call
_OPEN = ',"groups":['  # how the header line ends
_CLOSE = "]}"  # the last line
_GROUP = "expected [source_key, source_etag, [[output, key, output_etag, made_at], ...]] indexing the header's tables"



def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render_ledger(ledger: Ledger) -> bytes:
    """``ledger`` as a format 2 file, sources and tables sorted (the same ledger gives the same bytes). Lines are
    encoded one at a time into the buffer (no list of lines, no whole text beside the bytes). Entries held in a
    ``LedgerIndex`` (with a run's ``ChangedEntries`` over it) are written from its groups, in the order they were
    read (sorted, as this writes them): no ``LedgerEntry`` is made for them and their ETags become text one line
    at a time."""
    base, hidden, loose_entries = _layers(ledger.entries)
    outputs: set[tuple[str, str, str]] = set()
    made: set[str] = set()
    count = 0
    base_groups: list[Group] = []
    if base is not None:
        used_outputs, used_made = bytearray(len(base.outputs)), bytearray(len(base.made))
        for group in base.groups():
            layout, kept = group[LAYOUT], 0
            for j in range(len(group) - KEYS):
                if hidden and (base.outputs[layout[2 * j]][0], group[KEYS + j]) in hidden:
                    continue
                used_outputs[layout[2 * j]] = used_made[layout[2 * j + 1]] = 1
                kept += 1
            if kept:
                count += kept
                base_groups.append(group)
        outputs.update(o for o, used in zip(base.outputs, used_outputs) if used)
        made.update(m for m, used in zip(base.made, used_made) if used)
        if any(_order(a) > _order(b) for a, b in zip(base_groups, base_groups[1:])):
            base_groups.sort(key=_order)
    # entries not in an index: rows of (output, key, ETag, made_at) by (source key, source ETag)
    loose: dict[tuple[str, str], list[tuple[tuple[str, str, str], str, str, str]]] = {}
    for e in loose_entries:
        out = (e.bucket, e.address, e.fingerprint)
        outputs.add(out)
        made.add(e.made_at)
        loose.setdefault((e.source_key, e.source_etag), []).append((out, e.key, e.output_etag, e.made_at))
        count += 1
    out_order = sorted(outputs)
    out_index = {o: i for i, o in enumerate(out_order)}
    made_order = sorted(made)
    made_index = {m: i for i, m in enumerate(made_order)}
    header = _dumps({"format_version": LINES_VERSION, "kind": "ledger", "name": ledger.name,
                     "generation": ledger.generation, **({"identity": ledger.identity} if ledger.identity else {}),
                     "declaration": dict(ledger.declaration) if ledger.declaration is not None else None,
                     "outputs": [list(o) for o in out_order], "made_at": made_order, "count": count})
    buffer = io.BytesIO()
    buffer.write((header[:-1] + _OPEN + "\n").encode("utf-8"))
    separator = b""
    loose_keys = sorted(loose)
    i = k = 0
    next_base = _order(base_groups[0]) if base_groups else None
    while next_base is not None or k < len(loose_keys):  # merge the two sorted sequences of sources
        next_loose = loose_keys[k] if k < len(loose_keys) else None
        here = min(o for o in (next_base, next_loose) if o is not None)
        line = []
        if next_loose == here:
            line = [[out_index[o], key, etag, made_index[m]] for o, key, etag, m in loose[here]]
            k += 1
        while next_base == here:
            group, layout = base_groups[i], base_groups[i][LAYOUT]
            for j in range(len(group) - KEYS):
                out = base.outputs[layout[2 * j]]  # type: ignore[union-attr]
                if not (hidden and (out[0], group[KEYS + j]) in hidden):
                    line.append([out_index[out], group[KEYS + j], etag_at(group, j),
                                 made_index[base.made[layout[2 * j + 1]]]])  # type: ignore[union-attr]
            i += 1
            next_base = _order(base_groups[i]) if i < len(base_groups) else None
        line.sort()
        buffer.write(separator)
        buffer.write(_dumps([here[0], here[1], line]).encode("utf-8"))
        separator = b",\n"
    buffer.write((b"\n" if count else b"") + _CLOSE.encode() + b"\n")
    return buffer.getvalue()


def _order(group: Group) -> tuple[str, str]:
    """Where a group's line goes: by source key, then source ETag."""
    return group[SOURCE], etag_at(group, -1)


def _layers(entries: Mapping[tuple[str, str], LedgerEntry]
            ) -> tuple[LedgerIndex | None, set[tuple[str, str]], Iterable[LedgerEntry]]:
    """(an index written from its groups, its keys not to write, the entries written one by one)."""
    if isinstance(entries, LedgerIndex):
        return entries, set(), ()
    if isinstance(entries, ChangedEntries) and isinstance(entries.base, LedgerIndex):
        return entries.base, entries.hidden(), entries.puts.values()
    return None, set(), entries.values()


def parse_ledger(data: bytes | Iterable[bytes], where: str = "ledger") -> Ledger:
    """A ledger from its file (format 2 or 1), given whole or as pieces of bytes: format 2 as written is parsed as
    it comes, never held whole. ``StateError`` naming ``where`` (and the line) when it is not a ledger."""
    chunks = _pieces(data)
    head: list[bytes] = []
    for chunk in chunks:
        head.append(chunk)
        if b"\n" in chunk:
            break
    pending = b"".join(head)
    del head
    first, newline, rest = pending.partition(b"\n")
    header = _header(first) if newline else None
    if header is None:  # format 1, or format 2 laid out otherwise: one JSON document, walked piece by piece
        return ledger_stream.read_document(pending, chunks, where, lambda doc: ledger_from_document(doc, where))
    del pending, first
    return _read_lines(header, rest, chunks, where)


def ledger_from_document(doc: Mapping[str, Any], where: str = "ledger") -> Ledger:
    """A ledger from a parsed format 2 document (however it was laid out)."""
    tables = _tables(doc, where)
    groups = doc.get("groups")
    if not isinstance(groups, list):
        raise StateError(f"{where}: groups must be a list")
    for index, group in enumerate(groups):
        if not _add(group, tables):
            raise StateError(f"{where}: groups[{index}]: {_GROUP}")
    return _ledger(doc, tables, where)


def _pieces(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    """``data`` in pieces of about ``_CHUNK`` bytes at most (a whole body is sliced, not parsed at once)."""
    for chunk in ((data,) if isinstance(data, bytes) else data):
        if len(chunk) <= _CHUNK:
            yield chunk
            continue
        view = memoryview(chunk)
        for start in range(0, len(chunk), _CHUNK):
            yield bytes(view[start:start + _CHUNK])


def _header(line: bytes) -> dict[str, Any] | None:
    """The header of a format 2 file as written; None when ``line`` is not one."""
    try:
        text = line.decode("utf-8")
        data = json.loads(text + _CLOSE) if text.endswith(_OPEN) else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(data, dict) and data.get("format_version") == LINES_VERSION and data.get("groups") == []:
        return data
    return None


def _tables(header: Mapping[str, Any], where: str) -> LedgerIndex:
    if header.get("kind") != "ledger":
        raise StateError(f"{where}: expected a ledger, found {header.get('kind')!r}")
    outputs, made = header.get("outputs"), header.get("made_at")
    if not (isinstance(outputs, list) and all(isinstance(o, list) and len(o) == 3 and all(type(v) is str for v in o)
                                              for o in outputs)):
        raise StateError(f"{where}: outputs must be a list of [bucket, address, fingerprint]")
    if not (isinstance(made, list) and all(type(m) is str for m in made)):
        raise StateError(f"{where}: made_at must be a list of strings")
    if type(header.get("count")) is not int:
        raise StateError(f"{where}: count must be an integer")
    declaration = header.get("declaration")
    if declaration is not None and not isinstance(declaration, Mapping):
        raise StateError(f"{where}: declaration must be an object or null")
    shared: dict[str, str] = {}  # a bucket named by several outputs: one string
    outs = [(shared.setdefault(o[0], o[0]), shared.setdefault(o[1], o[1]), shared.setdefault(o[2], o[2]))
            for o in outputs]
    return LedgerIndex(outs, made, where)


def _add(group: Any, index: LedgerIndex) -> bool:
    """Put one source's entries in ``index``; False when ``group`` is not one."""
    n_outputs, n_made = len(index.outputs), len(index.made)
    try:
        source_key, source_etag, rows = group
        if type(source_key) is not str or type(source_etag) is not str or type(rows) is not list:
            return False
        for row in rows:
            out, key, output_etag, when = row
            if type(key) is not str or type(output_etag) is not str or type(out) is not int \
                    or not 0 <= out < n_outputs or type(when) is not int or not 0 <= when < n_made:
                return False
    except (TypeError, ValueError):
        return False
    index.add(source_key, source_etag, rows)
    return True


def _ledger(header: Mapping[str, Any], table: LedgerIndex, where: str) -> Ledger:
    if len(table) != header["count"]:
        raise StateError(f"{where}: holds {len(table)} entries where its header says {header['count']} "
                         "(truncated or edited)")
    return Ledger(name=str(header.get("name", "")), generation=str(header.get("generation", "0")), entries=table,
                  declaration=header.get("declaration"), identity=str(header.get("identity") or ""))


def _read_lines(header: dict[str, Any], rest: bytes, chunks: Iterator[bytes], where: str) -> Ledger:
    tables = _tables(header, where)
    line_no = 1  # lines read so far
    closed = False
    carry: str | None = None  # a block's last line held back: it has no comma, so it must be the last group
    for block in _blocks(rest, chunks):
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as error:
            raise StateError(f"{where}: after line {line_no}: not valid UTF-8 ({error})") from None
        if carry is not None:
            text, line_no, carry = carry + "\n" + text, line_no - 1, None
        if closed:
            if text.strip():
                raise StateError(f"{where}: line {line_no + 1}: data after the closing {_CLOSE}")
            continue
        lines = text.count("\n") + 1
        last = text[text.rfind("\n") + 1:]
        end = ("\n" + text).find("\n" + _CLOSE + "\n")
        if end >= 0:
            raise StateError(f"{where}: line {line_no + 1 + text.count(chr(10), 0, end) + 1}: data after the "
                             f"closing {_CLOSE}")
        if last.strip() == _CLOSE:
            closed, text = True, text[:len(text) - len(last)]
        elif not last.endswith(","):
            carry, text = last, text[:len(text) - len(last)]
        for offset, group in enumerate(_parse_block(text, closed, line_no, where)):
            if not _add(group, tables):
                raise StateError(f"{where}: line {line_no + 1 + offset}: {_GROUP}")
        line_no += lines
    if not closed:
        raise StateError(f"{where}: ends at line {line_no} without the closing {_CLOSE} (truncated)")
    return _ledger(header, tables, where)


def _blocks(rest: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Whole lines, about ``_CHUNK`` bytes at a time, each block without its final newline."""
    pending: list[bytes] = []
    for chunk in itertools.chain((rest,), chunks):
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pending.append(chunk)
            continue
        pending.append(chunk[:cut])
        yield b"".join(pending)
        pending = [chunk[cut + 1:]]
    last = b"".join(pending)
    if last:
        yield last


def _parse_block(text: str, closed: bool, line_no: int, where: str) -> list[Any]:
    """The groups on the lines of ``text`` (each ends with a comma, except the last group of the document)."""
    body = text.rstrip("\n")
    if not closed:
        if not body.endswith(","):
            if not body:
                return []
            raise StateError(f"{where}: line {line_no + body.count(chr(10)) + 1}: expected a comma after the group")
        body = body[:-1]
    if not body:
        return []
    try:
        values: list[Any] = json.loads("[" + body + "]")
    except json.JSONDecodeError:
        values = []
    if len(values) == body.count("\n") + 1:
        return values
    last = body.count("\n")
    for offset, line in enumerate(body.split("\n")):  # name the line that is wrong
        try:
            json.loads(line if offset == last else line.removesuffix(","))
        except json.JSONDecodeError as error:
            raise StateError(f"{where}: line {line_no + 1 + offset}: not valid JSON ({error})") from None
        if offset < last and not line.endswith(","):
            raise StateError(f"{where}: line {line_no + 1 + offset}: expected a comma after the group")
    raise StateError(f"{where}: lines {line_no + 1}-{line_no + 1 + body.count(chr(10))}: one group per line expected")
