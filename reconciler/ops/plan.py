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
from reconciler.plan.recheck import keys_to_check
from reconciler.plan.resets import reset_warnings
from reconciler.plan.scope import ScopeRequest
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
    scope: tuple[str, ...] = ()  # how the plan was read and narrowed: each report and its date, prefixes, shard


def plan(decls: Sequence[Declaration], connection: Connection, *, targets: Sequence[Address] = (),
         replacements: Sequence[Replacement] = (), prune: bool = False, replace_unmanaged: bool = False,
         progress: Progress | None = None,
         planning: Callable[[], AbstractContextManager[object]] = nullcontext,
         scope: ScopeRequest = ScopeRequest()) -> PlanOutcome:
    """Plan ``decls`` (the targeted ones) as apply would, without locking or writing anything; ``planning`` wraps
    the planning (the CLI pauses the cyclic GC in it); ``scope``: inventory reports, source prefixes, shard."""
    targeted = targeted_declarations(decls, targets)
    with connect(connection, targeted) as backend:
        opened = scope.open(backend.storage, targeted)  # reports read and checked before anything is listed
        with planning():
            result = plan_narrowed(decls, backend, targets=targets, replacements=replacements, prune=prune,
                                   replace_unmanaged=replace_unmanaged, progress=progress, scope=opened)
        owned = refusal_warnings(result, decls, backend.ledgers)  # refuses one set of two repositories
    notes = tuple(str(w) for w in plan_warnings(targeted, result))
    scope_notes = opened.notes()
    if opened.inventories:  # what apply will HEAD before it acts (plan.recheck)
        checks = sum(len(keys) for keys in keys_to_check(result, opened.inventories).values())
        scope_notes.append(f"Apply will first check {checks:,} key(s) of the inventoried buckets with HEAD requests "
                           "(COS read requests), to leave out what changed since the reports.")
    return PlanOutcome(result, tuple(targeted), notes, tuple(reset_warnings(result) + owned), tuple(scope_notes))
