"""Issue 26 point 2, state and planner: a source CI refused as not an image is recorded in the ledger with its ETag
(a journal record, merged and written in the header), the plan makes no call for it while its ETag is the refused
one — it is listed once as "skipped: not an image" and leaves the plan green — and calls it again once it
changed (or once an output of it was made)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from reconciler.model import Ledger, LedgerEntry, ObjectInfo, Plan
from reconciler.plan.planner import build_set_plan
from reconciler.render import render_markdown, render_text
from reconciler.state.ledger import JournalRecord, Segment, merge, segment_from_data, segment_to_data
from reconciler.state.ledger_file import parse_ledger, render_ledger
from tests.planner.conftest import B, decl

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "ledger.schema.json").read_text())
D = decl({"t": {"rule": "imageMogr2/thumbnail/10x", "fileid": "/t/{name}"}}, ["a/*"])


def test_the_refused_source_is_recorded_merged_and_written_with_its_etag() -> None:
    record = JournalRecord.unprocessable(B, "a/fake.png", "e1")
    segment = Segment("s", "run", 0, (record,), "0")
    data = segment_to_data(segment)
    jsonschema.validate(data, SCHEMA)  # the journal segment is valid against the published schema
    assert segment_from_data(data) == segment
    merged, _ = merge(Ledger("s"), [segment])
    assert merged.unprocessable == {"a/fake.png": "e1"} and merged.generation != "0"  # saved plans go stale
    text = render_ledger(merged)
    header = json.loads(text.split(b"\n", 1)[0])
    assert header["unprocessable"] == {"a/fake.png": "e1"}
    assert parse_ledger(text).unprocessable == {"a/fake.png": "e1"}
    assert "unprocessable" not in json.loads(render_ledger(Ledger("s")).split(b"\n", 1)[0])  # absent when none


def test_the_plan_skips_it_once_until_it_changes() -> None:
    ledger = Ledger("s", unprocessable={"a/fake.png": "e1"})
    sources = [ObjectInfo("a/ok.jpg", "e0"), ObjectInfo("a/fake.png", "e1")]
    plan = build_set_plan(D, sources, {}, ledger)
    assert [c.key for c in plan.calls] == ["a/ok.jpg"] and plan.unprocessable == ("a/fake.png",)
    only = build_set_plan(D, [ObjectInfo("a/fake.png", "e1")], {}, ledger)
    assert Plan((only,)).is_green  # only such skips remain: --detailed-exitcode 0
    text = render_text(Plan((only,)))
    assert text.count("a/fake.png") == 1
    assert "skipped: not an image (fix or exclude it): 1 source Cloud Infinite refused (a/fake.png)" in text
    assert "skipped: not an image (fix or exclude it)" in render_markdown(Plan((only,)))
    changed = build_set_plan(D, [ObjectInfo("a/fake.png", "e2")], {}, ledger)  # fixed: a new ETag
    assert [c.key for c in changed.calls] == ["a/fake.png"] and changed.unprocessable == ()


def test_an_output_made_from_the_source_clears_it() -> None:
    entry = LedgerEntry(B, "t/fake.png", "p.t", "a/fake.png", "e2", "fp", "oe", "2026-01-01T00:00:00Z")
    merged, _ = merge(Ledger("s", unprocessable={"a/fake.png": "e1"}),
                      [Segment("s", "run", 0, (JournalRecord.put(entry),), "0")])
    assert merged.unprocessable == {}
