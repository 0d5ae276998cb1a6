"""Journal segments: round trip and schema, their merge, and the local-folder ledger store."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.state import ledger as fmt
from reconciler.errors import StateError
from reconciler.state.ledger import JournalRecord
from reconciler.model import Declaration, Ledger, LedgerEntry, StateLocation
from reconciler.state.store import LedgerStore

ROOT = Path(__file__).resolve().parents[2]


def entry(key: str, etag: str = "e1") -> LedgerEntry:
    return LedgerEntry("b-1250000000", key, "p.o", "src/" + key, "s1", "fp", etag, "2026-01-01T00:00:00Z")


def decl(name: str = "catalog") -> Declaration:
    return Declaration(name=name, region="ap-guangzhou", bucket="b-1250000000", pipelines=(),
                       state=StateLocation("b-1250000000"))


def schema() -> dict[str, object]:
    data: dict[str, object] = json.loads((ROOT / "schemas" / "ledger.schema.json").read_text())
    return data


def test_schema_copies_are_identical() -> None:
    assert (ROOT / "schemas" / "ledger.schema.json").read_bytes() == \
        (ROOT / "reconciler" / "schemas" / "ledger.schema.json").read_bytes()


def test_segment_round_trip_and_schema() -> None:
    segment = fmt.Segment("catalog", "run1", 2, (JournalRecord.put(entry("a")), JournalRecord.delete("b", "k"),
                                                 JournalRecord.intent(entry("c", ""))), "3")
    data = fmt.segment_to_data(segment)
    jsonschema.validate(data, schema())
    assert fmt.segment_from_data(data) == segment


def test_unknown_segment_format_version_is_refused() -> None:
    with pytest.raises(StateError, match="journal/r-000001.json: unsupported journal format_version 99"):
        fmt.segment_from_data({"format_version": 99, "kind": "journal", "records": []}, "journal/r-000001.json")


def test_merge_applies_segments_of_the_same_base_only() -> None:
    base = Ledger("catalog", "2", {("b-1250000000", "old"): entry("old")})
    current = fmt.Segment("catalog", "r2", 0, (JournalRecord.put(entry("new")),
                                                JournalRecord.delete("b-1250000000", "old")), "2")
    already_compacted = fmt.Segment("catalog", "r1", 0, (JournalRecord.put(entry("ghost")),), "1")
    merged, pending = fmt.merge(base, [already_compacted, current])
    assert set(merged.entries) == {("b-1250000000", "new")} and pending == {}
    assert merged.generation.startswith("2+j")
    assert fmt.merge(base, [already_compacted]) == (base, {})
    assert fmt.next_generation(merged.generation) == "3"


def test_local_store_journal_then_compaction(tmp_path: Path) -> None:
    store = LedgerStore(lambda region: pytest.fail("no COS in this test"), tmp_path)
    d = decl()
    assert store.read(d) == Ledger("catalog")
    store.write_segment(d, "20260101T000000-aaaa", 0, "0", [JournalRecord.put(entry("a.webp"))])
    store.write_segment(d, "20260101T000000-aaaa", 1, "0", [JournalRecord.put(entry("a.webp", "e2"))])
    snap = store.snapshot(d)
    assert snap.ledger.entries[("b-1250000000", "a.webp")].output_etag == "e2"
    assert len(snap.segment_names) == 2
    new = store.compact(d, snap.ledger, {"name": "catalog"}, snap.segment_names)
    assert new.generation == "1"
    again = store.snapshot(d)
    assert again.segment_names == () and again.ledger == new and again.ledger.declaration == {"name": "catalog"}
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


def test_intents_stay_pending_until_settled() -> None:
    base = Ledger("catalog", "0")
    seg = fmt.Segment("catalog", "r", 0, (JournalRecord.intent(entry("a", "")), JournalRecord.intent(entry("b", ""))), "0")
    done = fmt.Segment("catalog", "r", 1, (JournalRecord.put(entry("a", "e9")),), "0")
    merged, pending = fmt.merge(base, [seg, done])
    assert list(merged.entries) == [("b-1250000000", "a")]
    assert list(pending) == [("b-1250000000", "b")]


def test_an_output_recorded_twice_is_refused_naming_the_file(tmp_path: Path) -> None:
    store = LedgerStore(lambda region: pytest.fail("no COS in this test"), tmp_path)
    d = decl()
    store.write_ledger(d, Ledger("catalog", "1", {("b-1250000000", "a.webp"): entry("a.webp"),
                                                  ("b-1250000000", "b.webp"): entry("b.webp")}))
    path = tmp_path / "catalog" / "ledger.jsonl"
    lines = path.read_text().split("\n")
    lines[2] = lines[2].replace('"b.webp"', '"a.webp"')  # the second source's output now has the first's key
    path.write_text("\n".join(lines))
    with pytest.raises(StateError, match=f"^{tmp_path}/catalog/ledger.jsonl: output b-1250000000/a.webp is recorded"
                                         " twice$"):
        store.read(d)
