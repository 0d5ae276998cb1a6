"""``plan --within``: a fresh plan may do less than the reviewed one, never more (pure comparison)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.model import ActionKind, Plan, PlannedAction, Reason
from reconciler.plan.within import additions
from tests.planner.test_render import B, make_plan


def test_less_is_within_and_more_is_named() -> None:
    reviewed = make_plan(3)
    (s,) = reviewed.sets
    assert additions(reviewed, reviewed) == (0, [])
    less = Plan((replace(s, calls=s.calls[:1]),))
    assert additions(less, reviewed) == (0, [])
    more = make_plan(4)  # one more source
    count, shown = additions(more, reviewed)
    assert count == 1 and shown == ["set shop: create src-1250000000/o0/k0000003.webp (pipe.out0: rule "
                                    "'imageMogr2/strip') from src-1250000000/src/k0000003.jpg (ETag etag)"]
    changed = Plan((replace(s, calls=[c._replace(source_etag="new") for c in s.calls]),))
    assert additions(changed, reviewed)[0] == 3  # a source changed since the review: its write is new
    delete = PlannedAction(ActionKind.DELETE, "pipe.gone", B, "old/y", "src/y", Reason.NOT_DECLARED)
    deleting = Plan((replace(s, actions=(*s.actions, delete)),))
    assert additions(deleting, reviewed) == (1, ["set shop: delete src-1250000000/old/y (pipe.gone)"])
    assert additions(reviewed, Plan(()))[0] == 3  # nothing reviewed: everything is beyond
