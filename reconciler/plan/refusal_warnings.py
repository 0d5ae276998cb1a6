"""What apply will refuse, said when the plan is shown (``cosrecon plan``, and ``apply`` before it asks): planned
writes and deletes at keys another set's ledger owns, and planned deletes of ledger entries the set could not have
written. Apply enforces both whatever the plan says (``guard``); this only makes them visible early. Reading the
other sets' owner indexes also checks the set's identity: one set name in two repositories is an error here.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.plan.guard import Guard, refusal_summary
from reconciler.plan.ownership import OwnershipStore, gather
from reconciler.plan.retire_hints import retire_hints
from reconciler.model import ActionKind, Declaration, Plan
from reconciler.plan.orphans import undeclared_count


def refusal_warnings(plan: Plan, decls: Sequence[Declaration], store: OwnershipStore) -> list[str]:
    by_name = {d.name: d for d in decls}
    warnings = []
    for s in plan.sets:
        decl = by_name.get(s.name)
        if decl is None:
            continue
        ownership = gather(store, decl)
        if undeclared_count(s):
            warnings += retire_hints(s, decl, ownership.own, store.read(decl).declaration)
        deletes = [a for a in s.actions if a.action is ActionKind.DELETE] if s.count(ActionKind.DELETE) else []
        if deletes:
            ledger = store.read(decl)
            guard = Guard([decl], {decl.name: ownership.owned})
            unwritable = sum(1 for a in deletes if (a.bucket, a.key) in ledger.entries and not
                             guard.could_have_written(decl, ledger.entries[(a.bucket, a.key)]))
            if unwritable:
                warnings.append(refusal_summary(decl.name, unwritable))
        if not ownership.owned:
            continue
        taken: dict[str, int] = {}
        keys = [(op.bucket, op.key) for call in s.calls for op in call.rules] + [(a.bucket, a.key) for a in deletes]
        for where in keys:
            other = ownership.owned.get(where)
            if other is not None:
                taken[other] = taken.get(other, 0) + 1
        for other, count in sorted(taken.items()):
            warnings.append(f"set {s.name!r}: {count} planned change(s) are at keys set {other!r}'s ledger owns; "
                            f"apply leaves them alone")
    return warnings
