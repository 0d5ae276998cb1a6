"""Warnings a plan can tell and a declaration alone cannot (PURE): pipelines whose globs matched no object, and
sources likely not images (``suspects``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.declare.warnings import DeclarationWarning, declaration_warnings
from reconciler.model import ActionKind, Declaration, Plan, SetPlan
from reconciler.plan.suspects import suspect_sources


def _unsourced(s: SetPlan, candidates: set[str]) -> set[str]:
    """The addresses among ``candidates`` that no call or conflict of ``s`` has (stops once all are found)."""
    remaining = set(candidates)
    for call in s.calls:
        if not remaining:
            return remaining
        for target, _ in call.pairs():
            remaining.discard(target.address)
    return remaining - {a.address for a in s.other_actions() if a.action is ActionKind.CONFLICT}


def empty_pipelines(decls: Sequence[Declaration], plan: Plan) -> list[DeclarationWarning]:
    """A warning for each planned pipeline none of whose outputs has a source: its include globs matched nothing."""
    by_name = {d.name: d for d in decls}
    found = []
    for s in plan.sets:
        decl = by_name.get(s.name)
        if decl is None:
            continue
        # planned (not left out by --target) and nothing unchanged: maybe no source
        pipelines = [(p, [decl.address(p, o) for o in p.outputs]) for p in decl.pipelines]
        pipelines = [(p, a) for p, a in pipelines if all(x in s.unchanged and not s.unchanged[x] for x in a)]
        unsourced = _unsourced(s, {x for _, a in pipelines for x in a})
        for pipeline, addresses in pipelines:
            if all(x in unsourced for x in addresses):
                globs = ", ".join(pipeline.source.include)
                found.append(DeclarationWarning(decl.path, f"$.pipelines.{pipeline.name}.source.include",
                                                f"matches no object in bucket {decl.bucket} ({globs})"))
    return found


def plan_warnings(decls: Sequence[Declaration], plan: Plan,
                  sniffed: Mapping[tuple[str, str], str] | None = None) -> list[DeclarationWarning]:
    """The declarations' warnings, then the plan's: pipelines matching nothing, sources likely not images
    (``sniffed``: what the first bytes of some sources show, with ``plan --check-sources``)."""
    return ([w for d in decls for w in declaration_warnings(d)] + empty_pipelines(decls, plan)
            + suspect_sources(decls, plan, sniffed))
