"""Journal segments (PURE: no I/O): to and from plain JSON data, and their merge onto a ledger.

The ledger file itself is ``ledger_file``'s. A journal segment records what one run did since the last compaction,
in order (schema ``schemas/ledger.schema.json``)::

    {"format_version": 1, "kind": "journal", "name": "catalog", "run_id": "...", "seq": 4, "base_generation": "3",
     "records": [{"op": "put", "entry": {...}} | {"op": "delete", "bucket": "...", "key": "..."}
                 | {"op": "unprocessable", "bucket": "...", "key": "<source key>", "etag": "<source ETag>"}]}

An entry is ``{"bucket", "key", "address", "source_key", "source_etag", "fingerprint", "output_etag", "made_at"}``.
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

    op: str  # "put" | "delete" | "intent" | "unprocessable"
    bucket: str
    key: str
    entry: LedgerEntry | None = None
    etag: str = ""  # "unprocessable": the source's ETag CI refused

    @staticmethod
    def put(entry: LedgerEntry) -> JournalRecord:
        return JournalRecord("put", entry.bucket, entry.key, entry)

    @staticmethod
    def intent(entry: LedgerEntry) -> JournalRecord:
        return JournalRecord("intent", entry.bucket, entry.key, entry)

    @staticmethod
    def delete(bucket: str, key: str) -> JournalRecord:
        return JournalRecord("delete", bucket, key, None)

    @staticmethod
    def unprocessable(bucket: str, key: str, etag: str) -> JournalRecord:
        """CI refused the source ``bucket``/``key`` (at ``etag``) as not an image: skipped until it changes."""
        return JournalRecord("unprocessable", bucket, key, None, etag)


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
        raise StateError(f"{where}: unsupported {kind} format_version {version!r} "
                         f"(this cosrecon reads {FORMAT_VERSION})")
    if data.get("kind", kind) != kind:
        raise StateError(f"{where}: expected a {kind}, found {data.get('kind')!r}")
    return data


def segment_to_data(segment: Segment) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    for record in segment.records:
        if record.entry is not None:
            records.append({"op": record.op, "entry": entry_to_data(record.entry)})
        elif record.op == "unprocessable":
            records.append({"op": "unprocessable", "bucket": record.bucket, "key": record.key, "etag": record.etag})
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
        if not isinstance(raw, Mapping) or raw.get("op") not in ("put", "delete", "intent", "unprocessable"):
            raise StateError(f"{here}: expected op put, delete, intent or unprocessable")
        if raw["op"] == "put":
            records.append(JournalRecord.put(entry_from_data(raw.get("entry"), here)))
        elif raw["op"] == "intent":
            records.append(JournalRecord.intent(entry_from_data(raw.get("entry"), here)))
        elif raw["op"] == "unprocessable":
            records.append(JournalRecord.unprocessable(str(raw.get("bucket", "")), str(raw.get("key", "")),
                                                       str(raw.get("etag", ""))))
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
    unprocessable = dict(ledger.unprocessable)
    pending: dict[tuple[str, str], LedgerEntry] = {}
    for segment in segments:
        for record in segment.records:
            where = (record.bucket, record.key)
            if record.op == "unprocessable":
                unprocessable[record.key] = record.etag
                continue
            if record.op == "intent" and record.entry is not None:
                pending[where] = record.entry
                continue
            pending.pop(where, None)
            if record.op == "put" and record.entry is not None:
                entries[where] = record.entry
                unprocessable.pop(record.entry.source_key, None)  # processed now: an image after all
            else:
                entries.pop(where, None)
    ids = [f"{s.run_id}-{s.seq}" for s in segments]
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
    merged = Ledger(name=ledger.name, generation=f"{base}+j{digest}", entries=LedgerIndex.of(entries),
                    declaration=ledger.declaration, identity=ledger.identity, unprocessable=unprocessable,
                    rates=ledger.rates)
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
                  declaration=dict(declaration) if declaration is not None else ledger.declaration,
                  identity=ledger.identity, unprocessable=ledger.unprocessable, rates=ledger.rates)
