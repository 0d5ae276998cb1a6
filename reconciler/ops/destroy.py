"""``cosrecon destroy``'s operation (and Pulumi's delete): retire a set — delete every output its ledger records
that the declaration as given could have written, behind the usual guards.

The set is planned as if it declared no pipelines, retired every output it declares and pruned
(``declare.authority.retiring``): each recorded output that one of its outputs or ``retired:`` entries makes (in a
bucket the declaration names), still standing as it was made, becomes a delete; any other entry is an orphan,
reported and never deleted; one changed outside cosrecon since is kept and reported; one already gone is
forgotten. Then the one apply workflow runs: the set's lock, the plan shown, confirmation, ``--max-delete``,
journaled deletes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.apply.workflow import Callbacks, Outcome, RunSettings, run_sets
from reconciler.declare.authority import retiring
from reconciler.errors import UsageError
from reconciler.model import ActionKind, Declaration, Plan, Reason
from reconciler.ops.compose import Connection, connect


def kept_outputs(plan: Plan) -> int:
    """Recorded outputs a retiring plan keeps: changed outside cosrecon since they were made (or never written by
    the declaration as given)."""
    return sum(1 for s in plan.sets for a in s.actions
               if a.action is ActionKind.ORPHANED and a.reason is not Reason.OUTPUT_GONE)


@dataclass(frozen=True)
class DestroyOutcome:
    outcome: Outcome
    kept: int  # recorded outputs changed outside cosrecon: not deleted, still recorded


def chosen_set(decls: Sequence[Declaration], set_name: str, where: str) -> Declaration:
    """The set named ``set_name`` among ``decls``; UsageError naming ``where`` when none is."""
    for decl in decls:
        if decl.name == set_name:
            return decl
    raise UsageError(f"destroy: set {set_name!r} is not declared in {where}")


def destroy(decl: Declaration, connection: Connection, settings: RunSettings,
            callbacks: Callbacks = Callbacks()) -> DestroyOutcome:
    """Retire ``decl``: lock, plan its recorded outputs as deletes, show, confirm, delete, compact."""
    with connect(connection, [decl]) as backend:
        outcome = run_sets([retiring(decl)], backend, replace(settings, prune=True), callbacks)
    return DestroyOutcome(outcome, kept_outputs(outcome.plan))
