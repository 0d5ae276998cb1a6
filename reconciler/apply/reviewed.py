"""A saved plan is a reviewed intent, not a program: ``apply --plan FILE`` executes it only where a fresh plan, made
from the declarations and the ledger under the lock, contains the very same thing.

Every call rule of the saved plan (source, source ETag, rule, fileid, destination bucket, key, fingerprint, action
kind and reason) and every delete must be in the fresh plan, and each set's declaration digest, ledger generation
and ``prune`` must match; otherwise the whole plan is refused (``StalePlanError``) naming the first difference. What
the fresh plan has beyond the saved one is not done. The fresh plan is made from the declarations, the ledger and
apply's own options (``--prune``, ``--target``, ``--replace``), never from anything the saved file says: a replace
the file requests that apply's ``--replace`` does not is refused as an addition, naming it. So an edited plan can
never add a delete, a replacement, a key, a bucket or a rule. Pure: compares two plans.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reconciler.declare.load import declaration_digest
from reconciler.errors import StalePlanError
from reconciler.model import ActionKind, Call, Declaration, Plan, PlannedAction, Reason, SetPlan

RuleItem = tuple[str, str, str, str, str, str, str, str, str, str]
"""(source bucket, source key, source ETag, address, rule, fileid, bucket, key, fingerprint, action kind)."""


def check_saved_declarations(saved: Plan, decls: Sequence[Declaration], where: str) -> None:
    """Refuse a saved plan for a set the declarations do not declare, or declared differently since."""
    by_name = {d.name: d for d in decls}
    for s in saved.sets:
        decl = by_name.get(s.name)
        if decl is None:
            raise StalePlanError(f"{where}: the plan is for set {s.name!r}, which the given declarations do not declare")
        if declaration_digest(decl) != s.declaration_digest:
            raise StalePlanError(f"{where}: set {s.name!r} was planned from a different declaration ({decl.path} "
                                 f"changed since); make a new plan")


def call_items(call: Call) -> Iterator[RuleItem]:
    """Each rule of ``call`` with everything that decides what it writes and why."""
    for op, change in zip(call.rules, call.changes()):
        yield (call.bucket, call.key, call.source_etag, op.address, op.rule, op.fileid, op.bucket, op.key,
               op.fingerprint, change.action.value)


def _delete_item(a: PlannedAction) -> tuple[str, str, str, str]:
    return a.address, a.bucket, a.key, a.source


def _describe(item: RuleItem) -> str:
    bucket, key, etag, address, rule, fileid, out_bucket, out_key, _, kind = item
    return (f"{kind} {out_bucket}/{out_key} ({address}: rule {rule!r}, fileid {fileid!r}) from source "
            f"{bucket}/{key} (ETag {etag})")


def _refuse(where: str, name: str, what: str) -> StalePlanError:
    return StalePlanError(f"{where}: set {name!r}: {what}; the saved plan is stale or was edited — nothing was "
                          f"applied; make a new plan")


def _check_set(saved: SetPlan, fresh: SetPlan, where: str) -> None:
    name = saved.name
    if saved.prune != fresh.prune:
        raise _refuse(where, name, f"the saved plan says prune {str(saved.prune).lower()}, the declaration and the "
                                   f"command line say prune {str(fresh.prune).lower()}")
    if saved.ledger_generation != fresh.ledger_generation:
        raise _refuse(where, name, f"the ledger changed since the plan was made (generation "
                                   f"{saved.ledger_generation} -> {fresh.ledger_generation})")
    by_source: dict[tuple[str, str], list[Call]] = {}  # the fresh calls by source (a source may have several)
    for call in fresh.calls:
        by_source.setdefault((call.bucket, call.key), []).append(call)
    for call in saved.calls:
        matches = by_source.get((call.bucket, call.key), ())
        if any(call == match for match in matches):
            continue  # the same call, rule for rule (the common case: compared without unpacking its rules)
        fresh_items = {item for match in matches for item in call_items(match)}
        for item, change in zip(call_items(call), call.changes()):
            if item in fresh_items:
                continue
            if change.reason is Reason.REPLACE_REQUESTED:
                raise _refuse(where, name, f"the saved plan asks to {_describe(item)} on request, which apply's own "
                                           f"--replace does not ask for (an addition; repeat the plan's --replace "
                                           f"on apply)")
            raise _refuse(where, name, f"the saved plan would {_describe(item)}, which a fresh plan does not")
    fresh_deletes = {_delete_item(a) for a in fresh.other_actions() if a.action is ActionKind.DELETE}
    for action in saved.other_actions():  # deletes are never a call's (whose creates/replaces are checked above)
        if action.action is ActionKind.DELETE and _delete_item(action) not in fresh_deletes:
            raise _refuse(where, name, f"the saved plan would delete {action.bucket}/{action.key} "
                                       f"({action.address}), which a fresh plan does not")


def reviewed_plan(saved: Plan, fresh: Plan, where: str) -> Plan:
    """The saved plan when everything in it is in ``fresh`` too (what only ``fresh`` has is left for the next
    plan); else ``StalePlanError`` naming the first difference."""
    by_name = {s.name: s for s in fresh.sets}
    for s in saved.sets:
        match = by_name.get(s.name)
        if match is None:
            raise _refuse(where, s.name, "a fresh plan has no such set")
        _check_set(s, match, where)
    return saved
