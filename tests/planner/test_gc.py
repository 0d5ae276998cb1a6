"""The cyclic GC is the process's business: the planner and the observer leave it as they find it (a Pulumi host or
the in-process server keeps collecting), and the CLI pauses it around planning only."""

from __future__ import annotations

import gc
from collections.abc import Iterator

from reconciler.cli.gcpause import gc_paused
from reconciler.model import Ledger, ObjectInfo
from reconciler.plan.observed import observe_set
from reconciler.plan.planner import build_set_plan
from tests.planner.test_observe import B, MemoryStorage, decl


def test_planning_and_observing_leave_the_gc_running() -> None:
    assert gc.isenabled()
    d = decl({"t": {"rule": "imageMogr2/strip", "fileid": "/t/{stem}.webp"}}, ["img/*.jpg"])
    seen: list[bool] = []

    def sources() -> Iterator[ObjectInfo]:
        seen.append(gc.isenabled())
        yield ObjectInfo("img/a.jpg", "e")
        seen.append(gc.isenabled())

    plan = build_set_plan(d, sources(), {}, Ledger("s"))
    obs = observe_set(d, MemoryStorage({B: {"img/a.jpg": "e"}}), Ledger("s"))
    assert seen == [True, True] and gc.isenabled()
    assert [k for c in plan.calls for k in c.keys] == ["t/a.webp"] and obs.source_keys == ["img/a.jpg"]


def test_the_cli_pause_restores_what_it_found() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
