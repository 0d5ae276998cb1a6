"""The ledger format (PURE: no I/O): ledgers and journal segments to and from plain JSON data, and journal merge.

A ledger document of ``format_version`` 1 (schema ``schemas/ledger.schema.json``; still read, no longer written:
the store writes ``ledger_lines``' compact format 2, one source per line)::

    {"format_version": 1, "kind": "ledger", "name": "catalog", "generation": "3",
     "declaration": {...last applied declaration...} | null,
     "entries": [{"bucket", "key", "address", "source_key", "source_etag", "fingerprint", "output_etag", "made_at"}]}

A journal segment records what one run did since the last compaction, in order::

    {"format_version": 1, "kind": "journal", "name": "catalog", "run_id": "...", "seq": 4, "base_generation": "3",
     "records": [{"op": "put", "entry": {...}} | {"op": "delete", "bucket": "...", "key": "..."}]}

Segments are merged onto the ledger in (run start, run id, seq) order; the effective generation of a ledger with
leftover segments names them, so a saved plan made before a journaled change is refused as stale.
"""

from __future__ import annotations

import json

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import StateError
from reconciler.state.index import LedgerIndex
from reconciler.model import Ledger, LedgerEntry

FORMAT_VERSION = 1
ENTRY_FIELDS = ("bucket", "key", "address", "source_key", "source_etag", "fingerprint", "output_etag", "made_at")


@dataclass(frozen=True)
class JournalRecord:
    """One change. ``put``: ``entry`` was made; ``delete``: the output at ``bucket``/``key`` was removed;
    ``intent``: a call that may create ``entry`` (found missing by the plan) is about to be issued — written before
    the call, so a run killed mid-call leaves evidence that an object later found at that key is its own."""

    op: str  # "put" | "delete" | "intent"
    bucket: str
    key: str
    entry: LedgerEntry | None = None

    @staticmethod
    def put(entry: LedgerEntry) -> JournalRecord:
        return JournalRecord("put", entry.bucket, entry.key, entry)

    @staticmethod
    def intent(entry: LedgerEntry) -> JournalRecord:
        return JournalRecord("intent", entry.bucket, entry.key, entry)

    @staticmethod
    def delete(bucket: str, key: str) -> JournalRecord:
        return JournalRecord("delete", bucket, key, None)


@dataclass(frozen=True)
class Segment:
    """One journal segment: records of one run, numbered ``seq`` within the run."""

    name: str
    run_id: str
    seq: int
    records: tuple[JournalRecord, ...]
    base_generation: str = "0"  # the compacted ledger generation the run started from


def entry_to_data(entry: LedgerEntry) -> dict[str, str]:
    return {name: str(getattr(entry, name)) for name in ENTRY_FIELDS}


def entry_from_data(data: Any, where: str) -> LedgerEntry:
    if not isinstance(data, Mapping):
        raise StateError(f"{where}: a ledger entry must be an object")
    missing = [name for name in ENTRY_FIELDS if not isinstance(data.get(name), str)]
    if missing:
        raise StateError(f"{where}: ledger entry lacks {', '.join(missing)}")
    return LedgerEntry(**{name: data[name] for name in ENTRY_FIELDS})


def _check_header(data: Any, kind: str, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise StateError(f"{where}: not a cosrecon {kind} (expected a JSON object)")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise StateError(f"{where}: unsupported {kind} format_version {version!r} (this cosrecon reads {FORMAT_VERSION})")
    if data.get("kind", kind) != kind:
        raise StateError(f"{where}: expected a {kind}, found {data.get('kind')!r}")
    return data


def ledger_to_data(ledger: Ledger) -> dict[str, Any]:
    entries = sorted(ledger.entries.values(), key=lambda e: (e.bucket, e.key))
    return {
        "format_version": FORMAT_VERSION,
        "kind": "ledger",
        "name": ledger.name,
        "generation": ledger.generation,
        "declaration": dict(ledger.declaration) if ledger.declaration is not None else None,
        "entries": [entry_to_data(e) for e in entries],
    }


def ledger_from_data(data: Any, where: str = "ledger") -> Ledger:
    """A ledger from its JSON document. Equal strings repeated across entries (bucket, address, fingerprint, the
    source key and ETag shared by a source's outputs, made_at) are kept once: JSON parsing makes a new string for
    each, and a ledger of millions of outputs would hold them all."""
    doc = _check_header(data, "ledger", where)
    raw_entries = doc.get("entries", [])
    if not isinstance(raw_entries, list):
        raise StateError(f"{where}: entries must be a list")
    builder = EntryBuilder(where)
    for index, raw in enumerate(raw_entries):
        builder.add(index, raw)
    return ledger_of(doc, builder, where)


def ledger_of(doc: Mapping[str, Any], builder: EntryBuilder, where: str) -> Ledger:
    """The ledger of a format 1 document's header fields and the entries ``builder`` collected."""
    declaration = doc.get("declaration")
    if declaration is not None and not isinstance(declaration, Mapping):
        raise StateError(f"{where}: declaration must be an object or null")
    return Ledger(name=str(doc.get("name", "")), generation=str(doc.get("generation", "0")),
                  entries=builder.index, declaration=declaration)


class EntryBuilder:
    """Collects format 1 entries one at a time into a ``LedgerIndex`` (each entry a group of its own)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.index = LedgerIndex(where=where)

    def add(self, index: int, raw: Any) -> None:
        self.index.add_entry(entry_from_data(raw, f"{self.where}: entries[{index}]"))


def segment_to_data(segment: Segment) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    for record in segment.records:
        if record.entry is not None:
            records.append({"op": record.op, "entry": entry_to_data(record.entry)})
        else:
            records.append({"op": "delete", "bucket": record.bucket, "key": record.key})
    return {"format_version": FORMAT_VERSION, "kind": "journal", "name": segment.name, "run_id": segment.run_id,
            "seq": segment.seq, "base_generation": segment.base_generation, "records": records}


def segment_from_data(data: Any, where: str = "journal") -> Segment:
    doc = _check_header(data, "journal", where)
    records: list[JournalRecord] = []
    raw_records = doc.get("records", [])
    if not isinstance(raw_records, list):
        raise StateError(f"{where}: records must be a list")
    for index, raw in enumerate(raw_records):
        here = f"{where}: records[{index}]"
        if not isinstance(raw, Mapping) or raw.get("op") not in ("put", "delete", "intent"):
            raise StateError(f"{here}: expected op put, delete or intent")
        if raw["op"] == "put":
            records.append(JournalRecord.put(entry_from_data(raw.get("entry"), here)))
        elif raw["op"] == "intent":
            records.append(JournalRecord.intent(entry_from_data(raw.get("entry"), here)))
        else:
            records.append(JournalRecord.delete(str(raw.get("bucket", "")), str(raw.get("key", ""))))
    seq = doc.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise StateError(f"{where}: seq must be an integer, got {json.dumps(seq)[:40]}")
    return Segment(name=str(doc.get("name", "")), run_id=str(doc.get("run_id", "")), seq=seq,
                   records=tuple(records), base_generation=str(doc.get("base_generation", "0")))


def merge(ledger: Ledger, segments: Sequence[Segment]) -> tuple[Ledger, dict[tuple[str, str], LedgerEntry]]:
    """The ledger with ``segments`` applied in the order given, and the intents no later record settled.

    A segment whose ``base_generation`` is not the ledger's is ignored: it was already compacted into it (a run that
    died between writing the ledger and deleting its segments) or belongs to a ledger that no longer exists.
    The generation of a ledger with segments names them, so plans made before a journaled change are stale.
    """
    base = base_generation(ledger.generation)
    segments = [s for s in segments if s.base_generation == base]
    if not segments:
        return ledger, {}
    entries = dict(ledger.entries)
    pending: dict[tuple[str, str], LedgerEntry] = {}
    for segment in segments:
        for record in segment.records:
            where = (record.bucket, record.key)
            if record.op == "intent" and record.entry is not None:
                pending[where] = record.entry
                continue
            pending.pop(where, None)
            if record.op == "put" and record.entry is not None:
                entries[where] = record.entry
            else:
                entries.pop(where, None)
    ids = [f"{s.run_id}-{s.seq}" for s in segments]
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
    merged = Ledger(name=ledger.name, generation=f"{base}+j{digest}", entries=LedgerIndex.of(entries),
                    declaration=ledger.declaration)
    return merged, pending


def base_generation(generation: str) -> str:
    """The compacted generation part of a (possibly journal-extended) generation string."""
    return generation.split("+", 1)[0]


def next_generation(generation: str) -> str:
    base = base_generation(generation)
    return str(int(base) + 1) if base.isdigit() else "1"


def compacted(ledger: Ledger, declaration: Mapping[str, Any] | None) -> Ledger:
    """The ledger to write at the end of a run: next generation, the applied declaration document."""
    return Ledger(name=ledger.name, generation=next_generation(ledger.generation), entries=ledger.entries,
                  declaration=dict(declaration) if declaration is not None else ledger.declaration)
