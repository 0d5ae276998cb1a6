"""Properties of the pure planner over generated sets: fewest calls, every change in exactly one call, and a
plan made against its own outcome is converged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.declare.load import build_declaration
from reconciler.model import ActionKind, Ledger, LedgerEntry, ObjectInfo, SetPlan
from reconciler.plan.planner import build_set_plan

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


C = "cdn-1250000000"


@settings(max_examples=60, deadline=None)
@given(keys=names, states=st.lists(st.sampled_from(["same", "changed", "gone", "old-rule", "unrecorded", "absent"]),
                                   min_size=50, max_size=50),
       deleted=st.lists(st.booleans(), min_size=25, max_size=25), prune=st.booleans())
def test_planning_from_a_listing_that_only_marks_what_stands_as_recorded_equals_planning_from_every_object(
        keys: list[str], states: list[str], deleted: list[bool], prune: bool) -> None:
    """observe keeps recorded outputs that stand as recorded out of ``existing`` (marks in ``confirmed``); the plan
    must be the one made from every listed object and a plain ledger, whatever the state of each output."""
    from reconciler.plan.observed import observe_set, plan_observed
    from reconciler.declare.rules import fingerprint
    from reconciler.storage.memory import MemoryStorage

    outputs = {"t": {"rule": "imageMogr2/strip", "fileid": "/t/{key}.webp"},
               "c": {"rule": "imageMogr2/format/png", "fileid": "c/{name}.webp", "bucket": C}}  # never a source key
    #  (a relative fileid equal to its source's key would be COS's rule 4: the source itself)
    decl = build_declaration({"version": 1, "name": "p", "region": "ap-guangzhou", "bucket": B,
                              "pipelines": {"p": {"source": {"include": ["**/*.jpg", "**/*.png"]},
                                                  "outputs": outputs}}}, "p.yaml")
    buckets: dict[str, dict[str, str]] = {B: {}, C: {}}
    entries: dict[tuple[str, str], LedgerEntry] = {}
    n = 0
    for i, key in enumerate(keys):
        gone_source = deleted[i % len(deleted)]
        if not gone_source:
            buckets[B][key] = "e-" + key
        for name, bucket, out_key in (("t", B, f"t/{key}.webp"), ("c", C, key.rsplit("/", 1)[0] + "/c/"
                                                                           + key.rsplit("/", 1)[-1] + ".webp"
                                                                           if "/" in key else f"c/{key}.webp")):
            state = states[n % len(states)]
            n += 1
            fp = fingerprint(outputs[name]["rule"], bucket, outputs[name]["fileid"])
            if state in ("same", "changed", "old-rule", "unrecorded"):
                buckets[bucket][out_key] = "changed" if state == "changed" else "o-" + out_key
            if state in ("same", "changed", "gone", "old-rule"):
                entries[(bucket, out_key)] = LedgerEntry(bucket, out_key, f"p.{name}", key, "e-" + key,
                                                         "old" if state == "old-rule" else fp, "o-" + out_key, "t")
    ledger = Ledger("p", "1", entries)
    obs = observe_set(decl, MemoryStorage(buckets), ledger)
    marked = plan_observed(decl, obs, ledger, prune=prune)
    plain = build_set_plan(decl, [ObjectInfo(k, v) for k, v in sorted(buckets[B].items())
                                  if k.endswith((".jpg", ".png")) and not k.startswith(("t/", ".cosrecon/"))],
                           {b: dict(objects) for b, objects in buckets.items()}, ledger, prune=prune)

    def summary(plan: SetPlan) -> object:
        return sorted(map(repr, plan.actions)), sorted(map(repr, plan.calls)), plan.unchanged

    assert summary(marked) == summary(plain)
    standing = [(b, k) for (b, k), e in entries.items() if buckets[b].get(k) == e.output_etag]
    if entries:  # every output standing as recorded was marked, and none of them kept in ``existing``
        assert obs.confirmed is not None and obs.confirmed.count_set() == len(standing)
        assert not [(b, k) for b, k in standing if k in obs.existing.get(b, {})]
