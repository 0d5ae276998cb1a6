"""The one apply workflow, used by ``cosrecon apply``/``adopt``/``destroy``/``upload`` and by the Pulumi provider
alike: lock every set -> plan (a saved plan is checked against a fresh one) -> show -> what apply will refuse ->
budget and cost -> confirm -> apply -> compact.

The caller fills one ``RunSettings`` (how to plan and which engine runs default to apply's) and gives ``Callbacks``
for what only it can do (show the plan, ask for confirmation); this module prints nothing and asks nothing itself.
Compaction and the journal are the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import Enum

from reconciler.apply.adopt import adopt
from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike, check_budget
from reconciler.apply.engine import apply_plan
from reconciler.apply.locking import lock_sets
from reconciler.plan.refusal_warnings import refusal_warnings
from reconciler.state.locks import HeldLock
from reconciler.apply.reviewed import check_saved_declarations, reviewed_plan
from reconciler.model import Declaration, Plan
from reconciler.plan.narrowed import plan_narrowed, targeted_declarations
from reconciler.plan.observed import carry_sizes
from reconciler.plan.recheck import recheck
from reconciler.plan.scope import ScopeRequest
from reconciler.plan.targets import Address, Replacement


class Operation(str, Enum):
    APPLY = "apply"
    ADOPT = "adopt"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return self.value


PlanStep = Callable[[Sequence[Declaration], BackendLike], Plan]
"""How a run plans its (locked) sets, instead of apply's planning (``upload``: with its files as if they stood)."""
Executor = Callable[[Plan, Sequence[Declaration], BackendLike, ApplyOptions, Mapping[str, HeldLock]], ApplyReport]
"""What executes the confirmed plan under the locks, instead of ``engine.apply_plan`` (``upload``: its PUTs)."""


@dataclass(frozen=True)
class RunSettings:
    """What one run does: filled by the CLI from its options, or by the Pulumi engine from the resource's inputs."""

    options: ApplyOptions = field(default_factory=ApplyOptions)
    prune: bool = False  # delete recorded outputs no longer declared (the CLI's --prune; Pulumi: the set's prune)
    replace_unmanaged: bool = False
    operation: Operation = Operation.APPLY
    saved: Plan | None = None  # a plan saved with ``plan --out``: executed only where a fresh plan, made from the
    # declarations, the ledger and these settings alone, agrees with it (it can only narrow the run)
    saved_where: str = ""  # the saved plan's file, for messages
    targets: tuple[Address, ...] = ()  # --target: only these outputs (empty: all)
    replacements: tuple[Replacement, ...] = ()  # --replace: remake these although unchanged
    plan_step: PlanStep | None = None  # None: plan as apply does (targets, replacements, prune)
    engine: Executor | None = None  # None: apply_plan (adopt for Operation.ADOPT)
    scope: ScopeRequest = field(default_factory=ScopeRequest)  # --inventory, --source-prefix, --shard


def _nothing(_: Plan) -> None:
    return None


def _ignore(_: str) -> None:
    return None


def _accept(_: Plan, __: Sequence[Declaration]) -> None:
    return None


@dataclass(frozen=True)
class Callbacks:
    """What the caller does at the workflow's steps: ``show`` the plan, ``warn`` of what apply will refuse
    (``preview``), ``check_cost`` of the plan of these declarations (the CLI's ``--max-cost``: raise
    ``BudgetExceeded`` to refuse it, as ``check_budget`` does), ``confirm`` it (raise ``Aborted`` to stop before
    anything changes)."""

    show: Callable[[Plan], None] = _nothing
    confirm: Callable[[Plan], None] = _nothing
    warn: Callable[[str], None] = _ignore
    check_cost: Callable[[Plan, Sequence[Declaration]], None] = _accept
    planning: Callable[[], AbstractContextManager[object]] = nullcontext  # the CLI pauses the cyclic GC in it


@dataclass(frozen=True)
class Outcome:
    """The plan that was executed and what executing it did."""

    plan: Plan
    report: ApplyReport


def run_sets(decls: Sequence[Declaration], backend: BackendLike, settings: RunSettings,
             callbacks: Callbacks = Callbacks()) -> Outcome:
    """Lock the sets, plan, show, confirm, then apply (or adopt) and compact; the locks are released on return."""
    options = settings.options
    if settings.saved is not None:
        check_saved_declarations(settings.saved, decls, settings.saved_where)
        names = {s.name for s in settings.saved.sets}
        decls = [d for d in decls if d.name in names]
    replace_unmanaged = settings.replace_unmanaged or settings.operation is Operation.ADOPT
    decls = targeted_declarations(decls, settings.targets)
    replacements = settings.replacements  # apply's own options: never read from a saved plan, which only narrows
    scope = settings.scope.open(backend.storage, decls)  # reports read and checked before anything is locked
    for note in scope.notes():
        callbacks.warn(note)
    with lock_sets(decls, backend, options, operation=settings.operation.value) as locks:
        with callbacks.planning():
            plan = settings.plan_step(decls, backend) if settings.plan_step is not None else plan_narrowed(
                decls, backend, targets=settings.targets, replacements=replacements,
                prune=settings.prune and settings.operation is Operation.APPLY, replace_unmanaged=replace_unmanaged,
                scope=scope)
        if settings.saved is not None:  # the saved plan, where the fresh one agrees; sizes from the fresh listings
            plan = carry_sizes(reviewed_plan(settings.saved, plan, settings.saved_where), plan)
        if scope.inventories:  # a report is a day old: what changed since is left out (less, never more)
            checked = recheck(plan, scope.inventories, workers=options.parallelism)
            plan = checked.plan
            callbacks.warn(checked.summary())
        callbacks.show(plan)
        for warning in refusal_warnings(plan, decls, backend.ledgers):  # one set of two repositories: refused here
            callbacks.warn(warning)
        if settings.operation is Operation.ADOPT:
            callbacks.confirm(plan)
            return Outcome(plan, adopt(plan, decls, backend, options, locks=locks))
        check_budget(plan, options)
        callbacks.check_cost(plan, decls)
        callbacks.confirm(plan)
        if settings.engine is not None:
            return Outcome(plan, settings.engine(plan, decls, backend, options, locks))
        return Outcome(plan, apply_plan(plan, decls, backend, options, locks=locks))
