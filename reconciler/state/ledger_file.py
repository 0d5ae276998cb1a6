"""The ledger file (PURE: no I/O): JSON Lines, written from the index's groups, read a line at a time into it.

The first line is the header, then one line per source (docs/ledger-format.md shows it with jq and pandas)::

    {"format_version":1,"kind":"ledger","name":"catalog","generation":"3","identity":"...","declaration":{...}|null,"count":3,
     "outputs":[{"bucket":"b-1250000000","address":"photos.thumb","fingerprint":"..."},...],
     "made_at":["2026-01-01T00:00:00Z",...]}
    {"source_key":"img/a.jpg","source_etag":"...","entries":[[0,"thumbs/a.webp","<output ETag>",0],...]}
    ...

An entry is ``[output, key, output_etag, made_at]``: ``output`` indexes the header's ``outputs`` (destination bucket,
``pipeline.output``, rule fingerprint), ``made_at`` its ``made_at``, so the values repeated by millions of entries
are written once. ``count`` is the number of entries, so a file cut at a line end is refused. Every line is a JSON
object a ``json.loads`` reads. Schema of each line: ``schemas/ledger.schema.json``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from reconciler.errors import StateError
from reconciler.state.index import KEYS, LAYOUT, SOURCE, ChangedEntries, Group, LedgerIndex, etag_at
from reconciler.model import Ledger, LedgerEntry

FORMAT_VERSION = 1
_CHUNK = 1 << 20  # bytes of whole lines decoded at a time
_SCAN: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # json.loads's own scanner
_LINE = ('expected {"source_key": ..., "source_etag": ..., "entries": [[output, key, output_etag, made_at], ...]} '
         "indexing the header's outputs and made_at")
_REFUSED = object()  # what _scan_line gives for a line it did not read
_OUTPUT = ("bucket", "address", "fingerprint")  # the fields of an entry of the header's outputs
_Row = tuple[tuple[str, str, str], str, str, str]  # (output, key, output ETag, made_at) of an entry not in an index


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # made once: json.dumps makes one a line


def render_ledger(ledger: Ledger) -> bytes:
    """``ledger`` as its file, sources and tables sorted (the same ledger gives the same bytes). Lines are encoded
    one at a time into the buffer (no list of lines, no whole text beside the bytes). Entries held in a
    ``LedgerIndex`` (with a run's ``ChangedEntries`` over it) are written from its groups, in the order they were
    read (sorted, as this writes them): no ``LedgerEntry`` is made for them and their ETags become text one line
    at a time."""
    base, hidden, loose_entries = _layers(ledger.entries)
    groups, outputs, made, count = _kept_groups(base, hidden)
    loose: dict[tuple[str, str], list[_Row]] = {}  # entries not in an index, by (source key, source ETag)
    for e in loose_entries:
        out = (e.bucket, e.address, e.fingerprint)
        outputs.add(out)
        made.add(e.made_at)
        loose.setdefault((e.source_key, e.source_etag), []).append((out, e.key, e.output_etag, e.made_at))
        count += 1
    out_order, made_order = sorted(outputs), sorted(made)
    out_index = {o: i for i, o in enumerate(out_order)}
    made_index = {m: i for i, m in enumerate(made_order)}
    buffer = io.BytesIO()
    buffer.write(_dumps({
        "format_version": FORMAT_VERSION, "kind": "ledger", "name": ledger.name, "generation": ledger.generation,
        **({"identity": ledger.identity} if ledger.identity else {}),
        **({"unprocessable": dict(sorted(ledger.unprocessable.items()))} if ledger.unprocessable else {}),
        **({"rates": {k: round(v, 6) for k, v in sorted(ledger.rates.items())}} if ledger.rates else {}),
        "declaration": dict(ledger.declaration) if ledger.declaration is not None else None, "count": count,
        "outputs": [{"bucket": b, "address": a, "fingerprint": f} for b, a, f in out_order],
        "made_at": made_order}).encode("utf-8"))
    base_rows = _rows(base, hidden, out_index, made_index)
    loose_keys = sorted(loose)
    i = k = 0
    next_base = _order(groups[0]) if groups else None
    while next_base is not None or k < len(loose_keys):  # merge the two sorted sequences of sources
        next_loose = loose_keys[k] if k < len(loose_keys) else None
        here = min(o for o in (next_base, next_loose) if o is not None)
        rows: list[list[Any]] = []
        if next_loose == here:
            rows = [[out_index[o], key, etag, made_index[m]] for o, key, etag, m in loose[here]]
            k += 1
        while next_base == here:
            rows += base_rows(groups[i])
            i += 1
            next_base = _order(groups[i]) if i < len(groups) else None
        rows.sort()
        buffer.write(b"\n")
        buffer.write(_dumps({"source_key": here[0], "source_etag": here[1], "entries": rows}).encode("utf-8"))
    buffer.write(b"\n")
    return buffer.getvalue()


def _kept_groups(base: LedgerIndex, hidden: set[tuple[str, str]]
                 ) -> tuple[list[Group], set[tuple[str, str, str]], set[str], int]:
    """The groups of ``base`` with an entry to write (in source order), the outputs and times those entries use,
    and how many entries there are."""
    groups: list[Group] = []
    count = 0
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
            groups.append(group)
    if any(_order(a) > _order(b) for a, b in zip(groups, groups[1:])):
        groups.sort(key=_order)
    outputs = {o for o, used in zip(base.outputs, used_outputs) if used}
    return groups, outputs, {m for m, used in zip(base.made, used_made) if used}, count


def _rows(base: LedgerIndex, hidden: set[tuple[str, str]], out_index: Mapping[tuple[str, str, str], int],
          made_index: Mapping[str, int]) -> Callable[[Group], list[list[Any]]]:
    """A group's entries as rows of the file (indexes into the file's tables), hidden ones left out."""
    outputs, made = base.outputs, base.made

    def rows(group: Group) -> list[list[Any]]:
        layout, found = group[LAYOUT], []
        for j in range(len(group) - KEYS):
            out = outputs[layout[2 * j]]
            if not (hidden and (out[0], group[KEYS + j]) in hidden):
                found.append([out_index[out], group[KEYS + j], etag_at(group, j), made_index[made[layout[2 * j + 1]]]])
        return found

    return rows


def _order(group: Group) -> tuple[str, str]:
    """Where a group's line goes: by source key, then source ETag."""
    return group[SOURCE], etag_at(group, -1)


def _layers(entries: Mapping[tuple[str, str], LedgerEntry]
            ) -> tuple[LedgerIndex, set[tuple[str, str]], Iterable[LedgerEntry]]:
    """(an index written from its groups, its keys not to write, the entries written one by one)."""
    if isinstance(entries, LedgerIndex):
        return entries, set(), ()
    if isinstance(entries, ChangedEntries) and isinstance(entries.base, LedgerIndex):
        return entries.base, entries.hidden(), entries.puts.values()
    return LedgerIndex(), set(), entries.values()


def parse_ledger(data: bytes | Iterable[bytes], where: str = "ledger") -> Ledger:
    """A ledger from its file, given whole or as pieces of bytes, read a line at a time into a ``LedgerIndex``
    (never held whole). ``StateError`` naming ``where`` and the line when it is not a cosrecon ledger."""
    header: dict[str, Any] | None = None
    index = LedgerIndex(where=where)
    line_no = 0
    for block in _blocks(_pieces(data)):
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as error:
            raise StateError(f"{where}: after line {line_no}: not valid UTF-8 ({error})") from None
        for line in text.split("\n"):
            line_no += 1
            if not line or line.isspace():
                continue
            if header is None:
                here = f"{where}: line {line_no}"
                header = _header(_loads(line, here, "the header line of a cosrecon ledger"), here)
                index = _tables(header, where)
                continue
            value = _scan_line(line)
            if value is _REFUSED:
                value = _loads(line, f"{where}: line {line_no}", "one JSON object per line")
            if not _add(value, index):
                raise StateError(f"{where}: line {line_no}: {_LINE}")
    if header is None:
        raise StateError(f"{where}: empty: expected the header line of a cosrecon ledger")
    if len(index) != header["count"]:
        raise StateError(f"{where}: holds {len(index)} entries where its header says {header['count']} "
                         "(truncated or edited)")
    return Ledger(name=str(header.get("name", "")), generation=str(header.get("generation", "0")), entries=index,
                  declaration=header.get("declaration"), identity=str(header.get("identity") or ""),
                  unprocessable=dict(header.get("unprocessable") or {}), rates=dict(header.get("rates") or {}))


def _pieces(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    """``data`` in pieces of about ``_CHUNK`` bytes at most (a whole body is sliced, not decoded at once)."""
    for chunk in ((data,) if isinstance(data, bytes) else data):
        if len(chunk) <= _CHUNK:
            yield chunk
            continue
        view = memoryview(chunk)
        for start in range(0, len(chunk), _CHUNK):
            yield bytes(view[start:start + _CHUNK])


def _blocks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Whole lines, about ``_CHUNK`` bytes at a time, each block without its final newline."""
    pending: list[bytes] = []
    for chunk in chunks:
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


def _scan_line(line: str) -> Any:
    """One line's value, from the scanner ``json.loads`` uses (its wrappers add a third to the time of a line);
    ``_REFUSED`` when the scanner refuses it (or there is white space before the value: ``_loads`` reads those)."""
    try:
        value, end = _SCAN(line, 0)
    except (StopIteration, ValueError):
        return _REFUSED
    return value if end == len(line) or not line[end:].strip() else _REFUSED


def _loads(line: str, here: str, expected: str) -> Any:
    """One line's value by ``json.loads``, or ``StateError`` naming ``here`` and what is wrong."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise StateError(f"{here}: not valid JSON ({error.msg}, column {error.colno}); expected {expected}") from None


def _header(data: Any, here: str) -> dict[str, Any]:
    """The header line, checked: a ledger of this format with its tables and count. ``here``: file and line."""
    if not isinstance(data, dict):
        raise StateError(f"{here}: expected the header object of a cosrecon ledger")
    if data.get("kind") != "ledger":
        raise StateError(f"{here}: expected a ledger, found {data.get('kind')!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise StateError(f"{here}: unsupported ledger format_version {data.get('format_version')!r} "
                         f"(this cosrecon reads {FORMAT_VERSION})")
    outputs, made = data.get("outputs"), data.get("made_at")
    if not (isinstance(outputs, list) and all(isinstance(o, dict) and all(type(o.get(f)) is str for f in _OUTPUT)
                                              for o in outputs)):
        raise StateError(f"{here}: outputs must be a list of {{bucket, address, fingerprint}}")
    if not (isinstance(made, list) and all(type(m) is str for m in made)):
        raise StateError(f"{here}: made_at must be a list of strings")
    if type(data.get("count")) is not int:
        raise StateError(f"{here}: count must be an integer")
    declaration = data.get("declaration")
    if declaration is not None and not isinstance(declaration, Mapping):
        raise StateError(f"{here}: declaration must be an object or null")
    if "identity" in data and type(data["identity"]) is not str:
        raise StateError(f"{here}: identity must be a string")
    unprocessable = data.get("unprocessable", {})
    if not (isinstance(unprocessable, dict) and all(type(v) is str for v in unprocessable.values())):
        raise StateError(f"{here}: unprocessable must be an object of source key -> ETag")
    rates = data.get("rates", {})
    if not (isinstance(rates, dict) and all(type(v) in (int, float) and 0 <= v < 1e6 for v in rates.values())):
        raise StateError(f"{here}: rates must be an object of call kind -> seconds per call")
    return data


def _tables(header: Mapping[str, Any], where: str) -> LedgerIndex:
    """An empty index with the header's tables; a bucket named by several outputs is held as one string."""
    shared: dict[str, str] = {}
    outs = [(shared.setdefault(o["bucket"], o["bucket"]), o["address"], o["fingerprint"]) for o in header["outputs"]]
    return LedgerIndex(outs, header["made_at"], where)


def _add(line: Any, index: LedgerIndex) -> bool:
    """Put one source's entries in ``index``; False when ``line`` is not a source line."""
    if type(line) is not dict:
        return False
    source_key, source_etag, rows = line.get("source_key"), line.get("source_etag"), line.get("entries")
    if type(source_key) is not str or type(source_etag) is not str or type(rows) is not list:
        return False
    n_outputs, n_made = len(index.outputs), len(index.made)
    try:
        for row in rows:
            out, key, output_etag, when = row
            if type(key) is not str or type(output_etag) is not str or type(out) is not int \
                    or not 0 <= out < n_outputs or type(when) is not int or not 0 <= when < n_made:
                return False
    except (TypeError, ValueError):
        return False
    index.add(source_key, source_etag, rows)
    return True

