"""What keeps a plan of millions of outputs small: the ledger's entries held as one tuple per source with ETags as
digests (``LedgerIndex``), the observer only marking objects that stand as recorded, and calls holding their rules as
(target, key) pairs. Same values as the plain forms, fewer objects."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from reconciler.state import ledger as fmt
from reconciler.state import ledger_file
from reconciler.errors import StateError
from reconciler.state.index import LedgerIndex, pack_etags, same_etag
from reconciler.model import ActionKind, Call, Ledger, LedgerEntry, PlanActions, PlannedAction, Reason, RuleOp
from reconciler.plan.observed import observe_set
from reconciler.plan.planner import build_set_plan
from reconciler.storage.memory import MemoryStorage
from tests.planner.conftest import B, C, decl


def _entries() -> list[LedgerEntry]:
    return [LedgerEntry(bucket, f"{where}/{i}.webp", f"p.{where}", f"img/{i}.jpg", f"src-etag-{i}", f"fp-{where}",
                        f"out-{where}-{i}", "2026-01-01T00:00:00Z")
            for i in range(3) for bucket, where in ((B, "t"), (C, "c"))]


def _loaded(entries: list[LedgerEntry]) -> Ledger:
    """A ledger as the store reads it from its file: JSON parsing makes a new string for every value."""
    return ledger_file.parse_ledger(ledger_file.render_ledger(Ledger("s", "4", {(e.bucket, e.key): e for e in entries})))


def test_loaded_entries_equal_the_plain_mapping_and_share_repeated_strings() -> None:
    entries = _entries()
    loaded = _loaded(entries)
    plain = {(e.bucket, e.key): e for e in entries}
    assert loaded == Ledger("s", "4", plain)
    table = loaded.entries
    assert isinstance(table, LedgerIndex)
    assert len(table) == 6 and dict(table) == plain and set(table) == set(plain)
    assert dict(table.items()) == plain and sorted(table.values(), key=str) == sorted(plain.values(), key=str)
    assert len(table.items()) == len(table.values()) == 6 and ((B, "t/0.webp"), plain[(B, "t/0.webp")]) in table.items()
    assert (B, "t/1.webp") in table and (B, "c/1.webp") not in table and "x" not in table
    assert table.get((C, "c/2.webp")) == plain[(C, "c/2.webp")] and table.get(("nope", "x")) is None
    with pytest.raises(KeyError):
        table[(B, "missing")]
    grouped = LedgerIndex.of(plain)  # one group per source, the source key held once
    assert dict(grouped) == plain and len(grouped.all) == 3 and len(grouped.outputs) == 2 and len(grouped.made) == 1
    group = grouped.by_key[B]["t/1.webp"]
    assert group is grouped.by_key[C]["c/1.webp"] is grouped.by_source["img/1.jpg"]
    assert grouped.source_of(group) == "img/1.jpg"
    assert [grouped.etag_at(group, j) for j in (-1, *grouped.positions(group))] == ["src-etag-1", "out-t-1", "out-c-1"]


def test_md5_etags_are_held_as_digests_and_given_back_exactly() -> None:
    md5 = [hashlib.md5(str(i).encode()).hexdigest() for i in range(4)]
    index = LedgerIndex([(B, "p.t", "fp"), (C, "p.c", "fp")], ["2026-01-01T00:00:00Z"])
    index.add("img/a.jpg", md5[0], [(0, "t/a.webp", md5[1], 0), (1, "c/a.webp", md5[2], 0)])
    index.add("img/b.jpg", md5[3].upper(), [(0, "t/b.webp", md5[1], 0)])  # upper case: kept as it is
    packed, kept = index.by_source["img/a.jpg"], index.by_source["img/b.jpg"]
    assert isinstance(pack_etags(md5), bytes) and len(pack_etags(md5)) <= len("".join(md5)) / 2  # digests, not text
    assert pack_etags([md5[3].upper(), md5[1]]) == (md5[3].upper(), md5[1])  # not MD5-like: kept as they are
    assert index[(C, "c/a.webp")].output_etag == md5[2] and index[(B, "t/a.webp")].source_etag == md5[0]
    assert index[(B, "t/b.webp")].source_etag == md5[3].upper()
    assert same_etag(packed, 1, md5[2]) and not same_etag(packed, 1, md5[1]) and not same_etag(packed, 1, "x")
    assert same_etag(kept, -1, md5[3].upper()) and not same_etag(kept, -1, md5[3])
    assert [index.entry_id(g, 0) for g in index.groups()] == [0, 2] and len(index) == 3  # numbered as added
    # a multipart upload's ETag (MD5 of the parts' MD5s, dash, part count): 20-byte records, given back exactly
    index.add("img/m.jpg", md5[0] + "-12", [(0, "t/m.webp", md5[1], 0), (1, "c/m.webp", md5[2] + "-3", 0)])
    multi = index.by_source["img/m.jpg"]
    assert isinstance(pack_etags([md5[0] + "-12", md5[1]]), bytes)
    assert [index[(B, "t/m.webp")].source_etag, index[(B, "t/m.webp")].output_etag,
            index[(C, "c/m.webp")].output_etag] == [md5[0] + "-12", md5[1], md5[2] + "-3"]
    assert same_etag(multi, -1, md5[0] + "-12") and not same_etag(multi, -1, md5[0])
    assert same_etag(multi, 0, md5[1]) and not same_etag(multi, 1, md5[2])
    assert pack_etags([md5[0], "x"]) == (md5[0], "x") and pack_etags([md5[0] + "-0"]) == (md5[0] + "-0",)
    with pytest.raises(StateError, match="t/a.webp is recorded twice"):
        index.add("img/c.jpg", md5[0], [(0, "t/a.webp", md5[1], 0)])


def test_merge_keeps_entries_by_bucket() -> None:
    entries = _entries()
    loaded = _loaded(entries)
    new = LedgerEntry(C, "c/9.webp", "p.c", "img/9.jpg", "e", "fp-c", "o", "")
    segment = fmt.Segment("s", "run", 1, (fmt.JournalRecord.put(new), fmt.JournalRecord.delete(B, "t/0.webp")), "4")
    merged, pending = fmt.merge(loaded, [segment])
    expected = {(e.bucket, e.key): e for e in entries if e.key != "t/0.webp"} | {(C, "c/9.webp"): new}
    assert dict(merged.entries) == expected and len(merged.entries) == 6 and pending == {}
    assert dict(loaded.entries) == {(e.bucket, e.key): e for e in entries}  # the loaded ledger is unchanged


def test_observed_objects_as_recorded_are_only_marked() -> None:
    d = decl({"t": {"rule": "imageMogr2/strip", "fileid": "/t/{stem}.webp"},
              "c": {"rule": "imageMogr2/strip", "fileid": "/c/{stem}.webp", "bucket": C}}, ["img/*.jpg"])
    entries = _entries()
    ledger = _loaded(entries)
    storage = MemoryStorage({
        B: {"img/0.jpg": "src-etag-0", "img/1.jpg": "src-etag-1", "img/2.jpg": "src-etag-2", "img/notes.txt": "n",
            "t/0.webp": "out-t-0", "t/1.webp": "changed", "t/2.webp": "out-t-2"},
        C: {"c/0.webp": "out-c-0", "c/1.webp": "out-c-1", "c/2.webp": "out-c-2", "c/extra.webp": "x"},
    })
    obs = observe_set(d, storage, ledger)
    assert obs.existing[B]["t/1.webp"] == "changed" and obs.existing[C]["c/extra.webp"] == "x"
    index, confirmed = obs.index, obs.confirmed
    assert index is not None and confirmed is not None and confirmed.count_set() == 5
    for bucket, key in [(B, "t/0.webp"), (B, "t/2.webp"), (C, "c/1.webp")]:
        assert key not in obs.existing[bucket]  # stands as recorded: marked, not kept
        group = index.recorded(bucket)[key]
        assert confirmed.is_set(index.entry_id(group, index.find(group, bucket, key)))
    (held,) = [k for k in obs.existing[B] if k == "t/1.webp"]
    group = index.recorded(B)["t/1.webp"]
    assert held is index.key_at(group, index.find(group, B, "t/1.webp"))  # the ledger's string, not the listing's
    # sources: only what a pipeline selects, key and ETag only
    assert [(s.key, s.etag, s.size, s.last_modified) for s in obs.sources] == [
        (f"img/{i}.jpg", f"src-etag-{i}", 0, "") for i in range(3)]
    marked = build_set_plan(d, obs.sources, obs.existing, replace(ledger, entries=index), confirmed=confirmed)
    everything = dict(obs.existing[B]) | {k: v for k, v in storage.buckets[B].items()}
    plain = build_set_plan(d, obs.sources, {B: everything, C: dict(storage.buckets[C])}, ledger)
    assert tuple(marked.actions) == tuple(plain.actions) and marked.calls == plain.calls
    fingerprints = {"p.t": entries[0].fingerprint, "p.c": entries[1].fingerprint}
    assert fingerprints == {"p.t": "fp-t", "p.c": "fp-c"}
    # the recorded fingerprints are not the declaration's: every recorded output is a rule-changed replace
    assert sorted((a.action.value, a.reason.value, a.key) for a in marked.actions) == sorted(
        [("replace", "rule-changed", f"{w}/{i}.webp") for i in range(3) for w in ("t", "c")])
    assert "img/notes.txt" in obs.existing[B]


def test_converged_plan_from_marks_matches_the_plan_from_every_object() -> None:
    d = decl({"t": {"rule": "imageMogr2/strip", "fileid": "/t/{stem}.webp"}}, ["img/*.jpg"])
    from reconciler.declare.rules import fingerprint

    fp = fingerprint("imageMogr2/strip", B, "/t/{stem}.webp")
    objects = {f"img/{i}.jpg": f"s{i}" for i in range(5)} | {f"t/{i}.webp": f"o{i}" for i in range(5)}
    objects["t/3.webp"] = "edited"
    del objects["t/4.webp"]
    recorded = {(B, f"t/{i}.webp"): LedgerEntry(B, f"t/{i}.webp", "p.t", f"img/{i}.jpg", f"s{i}", fp, f"o{i}", "")
                for i in range(5)}
    ledger = Ledger("s", "1", LedgerIndex.of(recorded))
    obs = observe_set(d, MemoryStorage({B: objects}), ledger)
    assert obs.confirmed is not None and obs.confirmed.count_set() == 3
    marked = build_set_plan(d, obs.sources, obs.existing, replace(ledger, entries=obs.index), confirmed=obs.confirmed)
    plain = build_set_plan(d, obs.sources, {B: objects}, Ledger("s", "1", recorded))
    assert sorted((a.action.value, a.reason.value, a.key) for a in marked.actions) == [
        ("create", "missing", "t/4.webp"), ("replace", "output-changed", "t/3.webp")]
    assert list(marked.actions) == list(plain.actions) and marked.unchanged == plain.unchanged == {"p.t": 3}


def test_recorded_outputs_outside_the_listings_are_headed_from_a_loaded_ledger() -> None:
    d = decl({"t": {"rule": "imageMogr2/strip", "fileid": "/t/{stem}.webp"}}, ["img/*.jpg"])
    old = LedgerEntry(C, "old/0.webp", "p.gone", "img/0.jpg", "e", "fp", "o", "")
    ledger = _loaded([old])
    storage = MemoryStorage({B: {"img/0.jpg": "e"}, C: {"old/0.webp": "o"}})
    obs = observe_set(d, storage, ledger)
    assert storage.heads == [(C, "old/0.webp")] and obs.existing[C] == {"old/0.webp": "o"}
    plan = build_set_plan(d, obs.sources, obs.existing, ledger)
    assert [(a.action.value, a.reason.value, a.key) for a in plan.actions if a.action.value != "create"] == [
        ("orphaned", "not-declared", "old/0.webp")]


def test_calls_are_values_of_targets_and_keys() -> None:
    rules = (RuleOp("p.t", "imageMogr2/strip", "/t/a.webp", B, "t/a.webp", "fp-t"),
             RuleOp("p.l", "imageMogr2/thumbnail/9x", "large/a.jpg", B, "img/large/a.jpg", "fp-l"))
    why = {(B, "t/a.webp"): (ActionKind.REPLACE, Reason.RULE_CHANGED, "old -> new")}
    call = Call.of_rules(B, "img/a.jpg", "e", rules, why)
    assert call.rules == rules and call.size == 2 and call.keys == ("t/a.webp", "img/large/a.jpg")
    assert [t.reason for t in call.targets] == [Reason.RULE_CHANGED, Reason.MISSING]
    again = Call(B, "img/a.jpg", "e", call.targets, call.keys)
    assert again == call and hash(again) == hash(call) and list(again.pairs()) == list(zip(call.targets, call.keys))
    assert list(call.changes()) == [
        PlannedAction(ActionKind.REPLACE, "p.t", B, "t/a.webp", "img/a.jpg", Reason.RULE_CHANGED, "old -> new"),
        PlannedAction(ActionKind.CREATE, "p.l", B, "img/large/a.jpg", "img/a.jpg", Reason.MISSING)]
    with pytest.raises(ValueError, match="does not resolve"):
        Call.of_rules(B, "img/a.jpg", "e", (RuleOp("p.l", "r", "large/a.jpg", B, "large/a.jpg", "f"),))
    with pytest.raises(ValueError, match="does not resolve"):
        Call.of_rules(B, "img/a.jpg", "e", (RuleOp("p.t", "r", "//t/a.webp", B, "t/a.webp", "f"),))
    with pytest.raises(AttributeError):
        setattr(call, "key", "other")  # a Call is immutable
    conflict = PlannedAction(ActionKind.CONFLICT, "p.t", B, "t/b.webp", "img/b.jpg", Reason.UNMANAGED)
    actions = PlanActions((call, call), (conflict,))
    assert len(actions) == 5 and list(actions)[-1] == conflict and actions[0] == list(call.changes())[0]
    assert actions.tally() == {ActionKind.REPLACE: 2, ActionKind.CREATE: 2, ActionKind.CONFLICT: 1}
    assert actions == tuple(actions) and PlanActions(()) == ()
