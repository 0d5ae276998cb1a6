"""Silent resets made loud: a set whose ledger records nothing here while its declared output keys already hold
objects (a ledger deleted, emptied or moved to another state location, journal segments deleted mid-run) would
otherwise plan quietly as N conflicts. Pure: reads a plan.
"""

from __future__ import annotations

from reconciler.model import ActionKind, Plan, Reason, SetPlan


def _records_nothing_here(s: SetPlan) -> bool:
    """No output of the set is recorded as standing: nothing unchanged, replaced for a recorded reason or orphaned."""
    if s.count(ActionKind.UNCHANGED) or s.count(ActionKind.ORPHANED) or s.count(ActionKind.DELETE):
        return False
    recorded = (Reason.RULE_CHANGED, Reason.SOURCE_CHANGED, Reason.OUTPUT_CHANGED)
    return not any(a.action is ActionKind.REPLACE and a.reason in recorded for a in s.actions)


def reset_warnings(plan: Plan) -> list[str]:
    """One warning per set whose ledger is missing or records none of the objects standing at its declared keys
    (conflicts; with ``--replace-unmanaged`` they are planned as replacements, which the user asked for)."""
    warnings = []
    for s in plan.sets:
        standing = s.count(ActionKind.CONFLICT)  # counted once per plan, never by walking its actions
        if standing and _records_nothing_here(s):
            state = "has no ledger" if s.ledger_generation == "0" else "has a ledger that records none of them"
            warnings.append(
                f"set {s.name!r} {state}, but {standing} of its declared output keys already hold objects: was its "
                f"ledger deleted, emptied or moved (another state location or --state-dir), or were journal segments "
                f"deleted? If these objects are this set's outputs, record them with `cosrecon adopt`")
    return warnings
