"""``plan_observed`` plans a set with the columnar engine from ``COLUMNAR_FROM`` expected outputs on (or as
``$COSRECON_PLANNER`` says), and the plan is the Python planner's."""

from __future__ import annotations

import pytest

from reconciler.declare.load import build_declaration
from reconciler.model import Ledger
from reconciler.plan import observed
from reconciler.plan.observed import COLUMNAR_FROM, PLANNER_ENV, observe_set, plan_observed, use_columnar
from reconciler.storage.memory import MemoryStorage

B, C = "src-1250000000", "cdn-1250000000"


def test_the_engine_is_chosen_by_size_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PLANNER_ENV, raising=False)
    assert not use_columnar(COLUMNAR_FROM - 1) and use_columnar(COLUMNAR_FROM)
    monkeypatch.setenv(PLANNER_ENV, "python")
    assert not use_columnar(10 * COLUMNAR_FROM)
    monkeypatch.setenv(PLANNER_ENV, "columnar")
    assert use_columnar(1)


def test_a_plan_through_the_engine_is_the_python_planners(monkeypatch: pytest.MonkeyPatch) -> None:
    decl = build_declaration({"version": 1, "name": "w", "region": "ap-guangzhou", "bucket": B, "pipelines": {
        "p": {"source": {"include": ["img/**/*.jpg"]}, "outputs": {
            "t": {"rule": "imageMogr2/thumbnail/10x", "fileid": "/t/{reldir}/{stem}.webp"},
            "c": {"rule": "imageMogr2/strip", "fileid": "c/{name}", "bucket": C}}}}}, "w.yaml")
    objects = {f"img/d{i % 7}/{i} é+%.jpg": f"e{i}" for i in range(300)}
    objects.update({f"t/d{i % 7}/{i} é+%.webp": "stray" for i in range(0, 300, 11)})  # conflicts
    storage = MemoryStorage({B: objects, C: {}})
    used: list[str] = []
    engine = observed.plan_with_engine

    def spy(*args: object, **kwargs: object) -> object:
        used.append("columnar")
        return engine(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(observed, "plan_with_engine", spy)
    plans = {}
    for choice in ("python", "columnar"):
        monkeypatch.setenv(PLANNER_ENV, choice)
        ledger = Ledger("w")
        plans[choice] = plan_observed(decl, observe_set(decl, storage, ledger), ledger, prune=True)
    assert used == ["columnar"]
    assert plans["columnar"] == plans["python"]
    assert len(plans["python"].calls) == 300 and plans["python"].count(plans["python"].actions[-1].action) > 0
