"""Properties of the pure planner over generated sets: fewest calls, every change in exactly one call, and a
plan made against its own outcome is converged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.declarations import build_declaration
from reconciler.model import ActionKind, Ledger, LedgerEntry, ObjectInfo
from reconciler.planner import build_set_plan

B = "src-1250000000"
names = st.lists(st.from_regex(r"[a-c]{1,3}(/[a-c]{1,2}){0,2}\.(jpg|png)", fullmatch=True), max_size=25, unique=True)


@settings(max_examples=60, deadline=None)
@given(keys=names, n_first=st.integers(1, 7), n_second=st.integers(0, 6))
def test_fewest_calls_and_convergence(keys: list[str], n_first: int, n_second: int) -> None:
    pipelines = {"one": {"source": {"include": ["**/*.jpg", "**/*.png"]},
                         "outputs": {f"o{i}": {"rule": f"imageMogr2/thumbnail/{i + 1}0x",
                                               "fileid": f"/one{i}/{{key}}.webp"} for i in range(n_first)}}}
    if n_second:
        pipelines["two"] = {"source": {"include": ["**/*.jpg"]},
                            "outputs": {f"o{i}": {"rule": "imageMogr2/strip", "fileid": f"two{i}/{{name}}",
                                                  "bucket": "cdn-1250000000"} for i in range(n_second)}}
    decl = build_declaration({"version": 1, "name": "p", "region": "ap-guangzhou", "bucket": B,
                              "pipelines": pipelines}, "p.yaml")
    sources = [ObjectInfo(k, "e-" + k) for k in keys]
    plan = build_set_plan(decl, sources, {B: {k: "e-" + k for k in keys}}, Ledger("p"))
    per_source = {k: n_first + (n_second if k.endswith(".jpg") else 0) for k in keys}
    assert len(plan.calls) == sum(-(-n // 5) for n in per_source.values())
    assert all(1 <= len(c.rules) <= 5 for c in plan.calls)
    made = [(a.bucket, a.key) for a in plan.actions]
    assert all(a.action is ActionKind.CREATE for a in plan.actions)
    assert sorted(made) == sorted((r.bucket, r.key) for c in plan.calls for r in c.rules)
    assert len(set(made)) == len(made) == sum(per_source.values())

    # what apply would leave behind: every output standing and recorded -> nothing to do
    existing: dict[str, dict[str, str]] = {B: {k: "e-" + k for k in keys}, "cdn-1250000000": {}}
    entries = {}
    for call in plan.calls:
        for rule in call.rules:
            existing.setdefault(rule.bucket, {})[rule.key] = "out"
            entries[(rule.bucket, rule.key)] = LedgerEntry(rule.bucket, rule.key, rule.address, call.key,
                                                           call.source_etag, rule.fingerprint, "out", "")
    again = build_set_plan(decl, sources, existing, Ledger("p", "1", entries))
    assert again.actions == () and again.calls == ()
    assert sum(again.unchanged.values()) == sum(per_source.values())
