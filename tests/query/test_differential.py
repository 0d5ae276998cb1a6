"""The columnar engine against the Python planner: random worlds must give identical plans (or the same refusal).

``worlds.random_world`` draws each world; hypothesis shrinks a failing one. When the Python planner refuses a
world (keys collide or cannot be used), the engine's queries must have found the problem too (``columnar_plan``
gives None and the reference's message stands); otherwise the engine plans it itself, and the plans must be equal
in every field. The corpus (tests/query/corpus) keeps worlds and their plans as regression cases.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import CollisionError
from reconciler.model import SetPlan
from reconciler.plan.columnar import build_set_plan_columnar, columnar_plan
from reconciler.plan.planner import build_set_plan
from reconciler.query.engine import Engine
from tests.query.worlds import World, plan_data, random_world, world_data, world_of

CORPUS = Path(__file__).parent / "corpus"
_ENGINE: list[Engine] = []  # one connection for every world (opening one takes ~0.4 s)


def _engine() -> Engine:
    if not _ENGINE:
        _ENGINE.append(Engine(memory_limit=256 << 20, threads=1))
    return _ENGINE[0]


def _reference(world: World) -> SetPlan | CollisionError:
    decl, sources, existing, ledger, kwargs = world.inputs()
    try:
        return build_set_plan(decl, sources, existing, ledger, **kwargs)
    except CollisionError as error:
        return error


def _check(world: World) -> SetPlan | CollisionError:
    reference = _reference(world)
    decl, sources, existing, ledger, kwargs = world.inputs()
    engine = columnar_plan(decl, sources, existing, ledger, engine=_engine(), **kwargs)
    if isinstance(reference, CollisionError):
        assert engine is None, "the engine planned a world the reference refuses"
        with pytest.raises(CollisionError) as raised:
            build_set_plan_columnar(decl, sources, existing, ledger, engine=_engine(), **kwargs)
        assert str(raised.value) == str(reference)
    else:
        assert engine is not None, f"the engine refused a world the reference plans: {world_data(world)}"
        assert plan_data(engine) == plan_data(reference)
        assert engine == reference
    return reference


@settings(max_examples=60, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_random_worlds_plan_identically(rng: random.Random) -> None:
    _check(random_world(rng))


def _corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.json"))


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.stem)
def test_corpus_world_plans_as_recorded(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    world = world_of(case["world"])
    assert plan_data(_check(world)) == case["plan"]


def test_corpus_is_there() -> None:
    assert len(_corpus()) >= 40


def write_corpus(count: int = 40) -> None:
    """Write the corpus: worlds of fixed seeds, each with the plan the Python planner makes of it."""
    CORPUS.mkdir(exist_ok=True)
    for seed in range(count):
        world = random_world(random.Random(seed))
        case = {"seed": seed, "world": world_data(world), "plan": plan_data(_reference(world))}
        (CORPUS / f"world-{seed:03d}.json").write_text(json.dumps(case, ensure_ascii=False, indent=1) + "\n",
                                                       encoding="utf-8")


if __name__ == "__main__":  # python -m tests.query.test_differential: rewrite the corpus
    write_corpus()
