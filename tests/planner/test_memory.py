"""What keeps a plan of millions of outputs small: the ledger's entries by bucket with repeated strings kept once,
and the observer holding the ledger's strings for objects that stand as recorded (same values, fewer objects)."""

from __future__ import annotations

import json
import re

import pytest

from reconciler import ledger as fmt
from reconciler.errors import StateError
from reconciler.model import Ledger, LedgerEntry
from reconciler.observe import observe_set
from reconciler.planner import build_set_plan
from tests.planner.test_observe import B, C, MemoryStorage, decl


def _entries() -> list[LedgerEntry]:
    return [LedgerEntry(bucket, f"{where}/{i}.webp", f"p.{where}", f"img/{i}.jpg", f"src-etag-{i}", f"fp-{where}",
                        f"out-{where}-{i}", "2026-01-01T00:00:00Z")
            for i in range(3) for bucket, where in ((B, "t"), (C, "c"))]


def _document(entries: list[LedgerEntry]) -> object:
    """A ledger document as JSON parsing gives it: a new string for every value."""
    ledger = Ledger("s", "4", {(e.bucket, e.key): e for e in entries})
    return json.loads(json.dumps(fmt.ledger_to_data(ledger)))


def test_loaded_entries_equal_the_plain_mapping_and_share_repeated_strings() -> None:
    entries = _entries()
    loaded = fmt.ledger_from_data(_document(entries))
    plain = {(e.bucket, e.key): e for e in entries}
    assert loaded == Ledger("s", "4", plain)
    table = loaded.entries
    assert isinstance(table, fmt.EntryTable)
    assert len(table) == 6 and dict(table) == plain and set(table) == set(plain)
    assert dict(table.items()) == plain and sorted(table.values(), key=str) == sorted(plain.values(), key=str)
    assert len(table.items()) == len(table.values()) == 6 and ((B, "t/0.webp"), plain[(B, "t/0.webp")]) in table.items()
    assert (B, "t/1.webp") in table and (B, "c/1.webp") not in table and "x" not in table
    assert table.get((C, "c/2.webp")) == plain[(C, "c/2.webp")] and table.get(("nope", "x")) is None
    with pytest.raises(KeyError):
        table[(B, "missing")]
    first, second = table[(B, "t/1.webp")], table[(C, "c/1.webp")]
    assert first.source_key is second.source_key and first.source_etag is second.source_etag  # one source
    assert first.made_at is second.made_at and first.bucket is table[(B, "t/2.webp")].bucket
    assert first.fingerprint is table[(B, "t/0.webp")].fingerprint


@pytest.mark.parametrize(("entry", "message"), [
    ("text", "entries[0]: a ledger entry must be an object"),
    ({"bucket": B, "key": "k"}, "entries[0]: ledger entry lacks address, source_key"),
    ({name: 1 for name in fmt.ENTRY_FIELDS}, "entries[0]: ledger entry lacks bucket, key"),
])
def test_a_bad_entry_is_named(entry: object, message: str) -> None:
    with pytest.raises(StateError, match=re.escape(f"led.json: {message}")):
        fmt.ledger_from_data({"format_version": 1, "kind": "ledger", "entries": [entry]}, "led.json")


def test_merge_keeps_entries_by_bucket() -> None:
    entries = _entries()
    loaded = fmt.ledger_from_data(_document(entries))
    new = LedgerEntry(C, "c/9.webp", "p.c", "img/9.jpg", "e", "fp-c", "o", "")
    segment = fmt.Segment("s", "run", 1, (fmt.JournalRecord.put(new), fmt.JournalRecord.delete(B, "t/0.webp")), "4")
    merged, pending = fmt.merge(loaded, [segment])
    expected = {(e.bucket, e.key): e for e in entries if e.key != "t/0.webp"} | {(C, "c/9.webp"): new}
    assert dict(merged.entries) == expected and len(merged.entries) == 6 and pending == {}
    assert dict(loaded.entries) == {(e.bucket, e.key): e for e in entries}  # the loaded ledger is unchanged


def test_observed_objects_as_recorded_hold_the_ledgers_strings() -> None:
    d = decl({"t": {"rule": "imageMogr2/strip", "fileid": "/t/{stem}.webp"},
              "c": {"rule": "imageMogr2/strip", "fileid": "/c/{stem}.webp", "bucket": C}}, ["img/*.jpg"])
    entries = _entries()
    ledger = fmt.ledger_from_data(_document(entries))
    storage = MemoryStorage({
        B: {"img/0.jpg": "src-etag-0", "img/1.jpg": "src-etag-1", "img/2.jpg": "src-etag-2", "img/notes.txt": "n",
            "t/0.webp": "out-t-0", "t/1.webp": "changed", "t/2.webp": "out-t-2"},
        C: {"c/0.webp": "out-c-0", "c/1.webp": "out-c-1", "c/2.webp": "out-c-2", "c/extra.webp": "x"},
    })
    obs = observe_set(d, storage, ledger)
    assert obs.existing[B]["t/1.webp"] == "changed" and obs.existing[C]["c/extra.webp"] == "x"
    for bucket, key in [(B, "t/0.webp"), (B, "t/2.webp"), (C, "c/1.webp")]:
        entry = ledger.entries[(bucket, key)]
        (held,) = [k for k in obs.existing[bucket] if k == key]
        assert held is entry.key and obs.existing[bucket][key] is entry.output_etag
    # sources: only what a pipeline selects, key and ETag only
    assert [(s.key, s.etag, s.size, s.last_modified) for s in obs.sources] == [
        (f"img/{i}.jpg", f"src-etag-{i}", 0, "") for i in range(3)]
    plan = build_set_plan(d, obs.sources, obs.existing, ledger)
    fingerprints = {"p.t": entries[0].fingerprint, "p.c": entries[1].fingerprint}
    assert fingerprints == {"p.t": "fp-t", "p.c": "fp-c"}
    # the recorded fingerprints are not the declaration's: every recorded output is a rule-changed replace
    assert sorted((a.action.value, a.reason.value, a.key) for a in plan.actions) == sorted(
        [("replace", "rule-changed", f"{w}/{i}.webp") for i in range(3) for w in ("t", "c")])
    assert "img/notes.txt" in obs.existing[B]


def test_recorded_outputs_outside_the_listings_are_headed_from_a_loaded_ledger() -> None:
    d = decl({"t": {"rule": "imageMogr2/strip", "fileid": "/t/{stem}.webp"}}, ["img/*.jpg"])
    old = LedgerEntry(C, "old/0.webp", "p.gone", "img/0.jpg", "e", "fp", "o", "")
    ledger = fmt.ledger_from_data(_document([old]))
    storage = MemoryStorage({B: {"img/0.jpg": "e"}, C: {"old/0.webp": "o"}})
    obs = observe_set(d, storage, ledger)
    assert storage.heads == [(C, "old/0.webp")] and obs.existing[C] == {"old/0.webp": "o"}
    plan = build_set_plan(d, obs.sources, obs.existing, ledger)
    assert [(a.action.value, a.reason.value, a.key) for a in plan.actions if a.action.value != "create"] == [
        ("orphaned", "not-declared", "old/0.webp")]
