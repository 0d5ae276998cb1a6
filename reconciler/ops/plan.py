"""``cosrecon plan``'s operation: the plan of the declarations (narrowed by --target/--replace), and what apply will
refuse or warn about when it runs it. No lock, no write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from reconciler.model import Declaration, Plan
from reconciler.observe.listing import Progress
from reconciler.ops.compose import Connection, connect
from reconciler.plan.narrowed import plan_narrowed, targeted_declarations
from reconciler.plan.refusal_warnings import refusal_warnings
from reconciler.plan.resets import reset_warnings
from reconciler.plan.targets import Address, Replacement
from reconciler.plan.warnings import plan_warnings


@dataclass(frozen=True)
class PlanOutcome:
    """The plan, the sets it covers, what the plan tells that a declaration cannot (``notes``), and what apply will
    refuse or find reset (``warnings``)."""

    plan: Plan
    decls: tuple[Declaration, ...]  # the targeted sets
    notes: tuple[str, ...]
    warnings: tuple[str, ...]


def plan(decls: Sequence[Declaration], connection: Connection, *, targets: Sequence[Address] = (),
         replacements: Sequence[Replacement] = (), prune: bool = False, replace_unmanaged: bool = False,
         progress: Progress | None = None,
         planning: Callable[[], AbstractContextManager[object]] = nullcontext) -> PlanOutcome:
    """Plan ``decls`` (the targeted ones) as apply would, without locking or writing anything; ``planning`` wraps
    the planning (the CLI pauses the cyclic GC in it)."""
    targeted = targeted_declarations(decls, targets)
    with connect(connection, targeted) as backend:
        with planning():
            result = plan_narrowed(decls, backend, targets=targets, replacements=replacements, prune=prune,
                                   replace_unmanaged=replace_unmanaged, progress=progress)
        owned = refusal_warnings(result, decls, backend.ledgers)  # refuses one set of two repositories
    notes = tuple(str(w) for w in plan_warnings(targeted, result))
    return PlanOutcome(result, tuple(targeted), notes, tuple(reset_warnings(result) + owned))
