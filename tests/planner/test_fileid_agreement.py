"""The fileids and keys the planner plans agree with ``templates`` (rendering) and ``model.resolve_fileid`` (the
one definition of COS fileid semantics)."""

from __future__ import annotations

import pytest

from reconciler.declare.globs import base_dir
from reconciler.model import Declaration, Ledger, ObjectInfo, OutputSpec, Pipeline, SourceSpec, StateLocation
from reconciler.plan.planner import build_set_plan, expected_outputs
from reconciler.declare.templates import FileidTemplate, source_variables
from reconciler.model import resolve_fileid

TEMPLATES = ["/thumbs/{dir}/{stem}.webp", "{stem}-x.{ext}", "/m/{rel}", "sub/{reldir}/{name}", "{dir}/copy-{name}",
             "/{key}.png", "/out/{reldir}/{stem}.jpg"]
SOURCE_KEYS = ["a.jpg", "p/a.jpg", "p/q/r/a.b.jpg", "p/ü n+i=c&o?de.jpg", "p/noext"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_planned_fileid_and_key_match_templates(template: str) -> None:
    include = "**"
    decl = Declaration(name="s", region="ap-guangzhou", bucket="b-1250000000", state=StateLocation("o-1250000000"),
                       pipelines=(Pipeline("p", SourceSpec((include,)), (OutputSpec("o", "imageMogr2/strip", template),)),))
    sources = [ObjectInfo(k, f"e{i}") for i, k in enumerate(SOURCE_KEYS)]
    plan = build_set_plan(decl, sources, {}, Ledger("s"))
    got = {op.key: op.fileid for call in plan.calls for op in call.rules}
    want = {}
    for key in SOURCE_KEYS:
        fileid = FileidTemplate(template).render(source_variables(key, base_dir(include)))
        want[resolve_fileid(key, fileid)] = fileid
    assert got == want
    assert {key for _, _, key in expected_outputs(decl, sources)} == set(want)
