"""Plans of any size render to a bounded terminal text and PR comment: per-address counts and a few samples, every
action only with ``--full``."""

from __future__ import annotations

from reconciler.model import Call, Plan, PlanActions, SetPlan, Target
from reconciler.render.markdown import COMMENT_LIMIT, render_markdown
from reconciler.render.text import render_text


def big_plan(n: int) -> Plan:
    target = Target("p.thumb", "imageMogr2/thumbnail/64x", "b-1250000000", "f", True)
    calls = tuple(Call("b-1250000000", f"img/{i:07d}.jpg", "e", (target,), (f"t/{i:07d}.jpg",)) for i in range(n))
    return Plan((SetPlan("shop", "d", "0", PlanActions(calls), calls, {"p.thumb": 0}),))


def test_text_and_markdown_stay_bounded_and_full_lists_everything() -> None:
    small, large = big_plan(1_000), big_plan(50_000)
    assert len(render_text(large)) - len(render_text(small)) < 20  # the counts grow, not the lines
    assert len(render_text(large).splitlines()) < 20
    assert "... and 49997 more (--full lists all)" in render_text(large)
    assert len(render_markdown(large)) <= COMMENT_LIMIT
    assert len(render_text(large, full=True).splitlines()) > 50_000
