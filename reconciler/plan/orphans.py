"""Recorded outputs no longer expected (PURE): orphaned, or delete when pruning.

After the planner's loop, every ledger entry no expected output claimed is one: its source was deleted or is no
longer selected, or its output is no longer declared (removed, fileid or bucket changed). An orphan whose object
is gone has nothing to delete; one changed outside cosrecon since it was made is never deleted; and one that no
output or ``retired:`` entry of the declaration could have written (``declare.authority``) is never deleted either:
only the declarations grant permission, and the ledger is data. Such an entry stays an orphan with a detail saying
to retire its old definition.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.declare.authority import Authority
from reconciler.plan.compiled import CompiledPipeline
from reconciler.state.index import EntryFlags, LedgerIndex
from reconciler.model import ActionKind, Declaration, PlannedAction, Reason, SetPlan

_EMPTY: Mapping[str, str] = {}
UNDECLARED = "no output or retired: entry of the declaration could have written it; not deleted"


def orphans(
    decl: Declaration,
    pipes: tuple[CompiledPipeline, ...],
    index: LedgerIndex,
    claims: EntryFlags,
    confirmed: EntryFlags,
    existing: Mapping[str, Mapping[str, str]],
    selected: set[str],
    prune: bool,
) -> list[PlannedAction]:
    """Recorded outputs that no expected output claims: orphaned, or delete when pruning."""
    selectors = {o.address: p.selector for p in pipes for o in p.outputs}
    result: list[PlannedAction] = []
    permitted = Authority(decl).permits
    for group, j in index.unflagged(claims):
        entry = index.entry(group, j)
        bucket, key = entry.bucket, entry.key
        selector = selectors.get(entry.address)
        still_selected = selector is not None and selector.matches(entry.source_key)
        gone_source = still_selected and entry.source_key not in selected
        reason = Reason.SOURCE_DELETED if gone_source else Reason.NOT_DECLARED
        current = existing.get(bucket, _EMPTY).get(key)
        if current is None and confirmed.is_set(index.entry_id(group, j)):
            current = entry.output_etag
        if current is None:
            result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key,
                                        Reason.OUTPUT_GONE))
        elif not permitted(entry):
            result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key, reason,
                                        UNDECLARED))
        elif not prune:
            result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key,
                                        reason))
        elif current != entry.output_etag:
            result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key, reason,
                                        "changed outside cosrecon since it was made; not deleted"))
        else:
            result.append(PlannedAction(ActionKind.DELETE, entry.address, bucket, key, entry.source_key, reason))
    result.sort(key=lambda a: (a.address, a.bucket, a.key))
    return result


def undeclared_count(s: SetPlan) -> int:
    """Orphans no output or ``retired:`` entry of the declaration could have written: never deleted."""
    if not s.count(ActionKind.ORPHANED):
        return 0
    return sum(1 for a in s.other_actions() if a.action is ActionKind.ORPHANED and a.detail == UNDECLARED)
