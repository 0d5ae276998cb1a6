"""Table-driven planner cases: each tests/planner/cases/*.json holds objects + ledger + declaration in,
actions + calls out (or the error expected). The planner is pure, so each case is a plain function call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.declare.load import build_declaration
from reconciler.plan.diffing import rule_changes
from reconciler.errors import CollisionError
from reconciler.model import Declaration, Ledger, LedgerEntry, ObjectInfo
from reconciler.plan.planner import build_set_plan
from reconciler.declare.rules import fingerprint

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))


def _output(decl: Declaration, address: str) -> tuple[str, str, str] | None:
    for pipeline in decl.pipelines:
        for output in pipeline.outputs:
            if decl.address(pipeline, output) == address:
                return output.rule, decl.output_bucket(output), output.fileid
    return None


def _ledger(decl: Declaration, rows: list[dict[str, Any]], last: dict[str, Any] | None) -> Ledger:
    entries = {}
    for row in rows:
        fp = row["fingerprint"]
        found = _output(decl, row["address"])
        if fp == "current" and found:
            fp = fingerprint(*found)
        elif fp not in ("current", "stale") and found:  # a rule text: the fingerprint it had
            fp = fingerprint(fp, found[1], found[2])
        entry = LedgerEntry(row["bucket"], row["key"], row["address"], row["source_key"], row["source_etag"], fp,
                            row["output_etag"], "2026-01-01T00:00:00Z")
        entries[(entry.bucket, entry.key)] = entry
    return Ledger(decl.name, "7", entries, last)


def run_case(case: dict[str, Any]) -> Any:
    decl = build_declaration(case["declaration"], "case.yaml")
    sources = [ObjectInfo(k, e) for k, e in case["sources"].items()]
    existing: dict[str, dict[str, str]] = {b: dict(objs) for b, objs in case.get("existing", {}).items()}
    existing.setdefault(decl.bucket, {}).update({k: e for k, e in case["sources"].items()
                                                 if k not in existing[decl.bucket]})
    last = case.get("last_declaration")
    ledger = _ledger(decl, case.get("ledger", []), last)
    options = case.get("options", {})
    return build_set_plan(decl, sources, existing, ledger, prune=options.get("prune", False),
                          replace_unmanaged=options.get("replace_unmanaged", False), declaration_digest="d1",
                          rule_changes=rule_changes(last, decl.document))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(CollisionError) as info:
            run_case(case)
        for text in expect["error"]:
            assert text in str(info.value)
        return
    plan = run_case(case)
    assert plan.ledger_generation == "7" and plan.declaration_digest == "d1"
    if "actions" in expect:
        got = sorted([a.action.value, a.address, a.bucket, a.key, a.source, a.reason.value]
                     + ([a.detail] if a.detail else []) for a in plan.actions)
        assert got == sorted(expect["actions"])
    calls = expect.get("calls")
    if isinstance(calls, int):
        assert len(plan.calls) == calls
    elif calls is not None:
        got_calls = [{"key": c.key, "etag": c.source_etag, "rules": [[r.address, r.fileid, r.bucket] for r in c.rules]}
                     for c in plan.calls]
        assert got_calls == calls
        for call in plan.calls:
            assert call.bucket == plan_bucket(case) and 1 <= len(call.rules) <= 5
    if "unchanged" in expect:
        assert dict(plan.unchanged) == expect["unchanged"]
    if "rule_changes" in expect:
        assert {a: list(v) for a, v in plan.rule_changes.items()} == expect["rule_changes"]
    # every create/replace has exactly one rule in the calls, and nothing else does
    made = sorted((a.bucket, a.key) for a in plan.actions if a.action.value in ("create", "replace"))
    assert made == sorted((r.bucket, r.key) for c in plan.calls for r in c.rules)


def plan_bucket(case: dict[str, Any]) -> str:
    return str(case["declaration"]["bucket"])


def test_cases_cover_every_action_and_reason() -> None:
    seen_actions, seen_reasons = set(), set()
    for path in CASES:
        for row in json.loads(path.read_text(encoding="utf-8"))["expect"].get("actions", []):
            seen_actions.add(row[0])
            seen_reasons.add(row[5])
    assert seen_actions == {"create", "replace", "delete", "conflict", "orphaned"}
    assert seen_reasons == {"missing", "rule-changed", "source-changed", "output-changed", "unmanaged",
                            "replace-unmanaged", "not-declared", "source-deleted", "output-gone"}
