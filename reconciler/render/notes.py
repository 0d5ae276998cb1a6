"""What a plan's conflicts and orphans mean and what to do about them, in words shared by text and markdown.

Kept orphans are told apart from deletes and from orphans a prune still keeps (changed outside cosrecon since they
were made), and from recorded outputs already gone (apply forgets them), so a footer never says "kept" under lines
that say "deleted". Decides nothing, does no I/O.
"""

from __future__ import annotations

from reconciler.model import ActionKind, Plan, Reason, SetPlan
from reconciler.plan.orphans import UNDECLARED, undeclared_count

ADOPT_HINT = "`cosrecon adopt` records them as they stand, or `--replace-unmanaged` remakes them"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def orphan_counts(s: SetPlan) -> tuple[int, int, int]:
    """(kept: not pruning, kept although pruning: changed outside, gone: nothing left to delete); the undeclared
    (``undeclared_count``) are in none of them."""
    kept = changed = gone = 0
    if not s.count(ActionKind.ORPHANED):
        return 0, 0, 0
    for a in s.other_actions():
        if a.action is not ActionKind.ORPHANED or a.detail == UNDECLARED:
            continue
        if a.reason is Reason.OUTPUT_GONE:
            gone += 1
        elif s.prune:
            changed += 1
        else:
            kept += 1
    return kept, changed, gone


def set_notes(s: SetPlan) -> list[str]:
    """One line for each kind of conflict or orphan ``s`` has, saying what it is and what to do."""
    lines = []
    deletes = s.count(ActionKind.DELETE)
    if deletes:
        lines.append(f"{_plural(deletes, 'orphaned output')} deleted by apply (pruning).")
    kept, changed, gone = orphan_counts(s)
    if kept:
        lines.append(f"{_plural(kept, 'orphaned output')} kept: no longer declared or their source is gone "
                     "(prune: true or --prune deletes them; `cosrecon state rm` forgets them).")
    if changed:
        lines.append(f"{_plural(changed, 'orphaned output')} kept although pruning: changed outside cosrecon since "
                     "they were made, so never deleted (`cosrecon state rm` forgets them).")
    undeclared = undeclared_count(s)
    if undeclared:
        lines.append(f"{_plural(undeclared, 'orphaned output')} kept: no output or retired: entry of the declaration "
                     "could have written them, so never deleted (to prune them, add a retired: entry for their old "
                     "definition; `cosrecon state rm` forgets them).")
    if gone:
        lines.append(f"{_plural(gone, 'recorded output')} already gone: apply forgets them.")
    conflicts = s.count(ActionKind.CONFLICT)
    if conflicts:
        lines.append(f"{_plural(conflicts, 'conflict')}: objects cosrecon did not make stand at declared keys; "
                     f"{ADOPT_HINT}.")
    return lines


def is_green(plan: Plan) -> bool:
    """Nothing to do and nothing to decide: no change, conflict or orphan (``plan --detailed-exitcode`` exits 0)."""
    return not plan.has_changes and not plan.count(ActionKind.ORPHANED)


def next_steps(plan: Plan, paths: str) -> list[str]:
    """After an apply of ``plan``: how to get from what it left (conflicts, orphans) to a green plan."""
    conflicts = plan.count(ActionKind.CONFLICT)
    kept = changed = undeclared = 0
    for s in plan.sets:
        k, c, _ = orphan_counts(s)
        kept, changed, undeclared = kept + k, changed + c, undeclared + undeclared_count(s)
    steps = []
    if conflicts:
        steps.append(f"{_plural(conflicts, 'conflict')} left: `cosrecon adopt {paths}` records them as they stand, "
                     f"or `cosrecon apply {paths} --replace-unmanaged` remakes them.")
    if kept:
        steps.append(f"{_plural(kept, 'orphaned output')} kept: `cosrecon apply {paths} --prune` deletes them, or "
                     f"`cosrecon state rm {paths} --key KEY` forgets them.")
    if changed:
        steps.append(f"{_plural(changed, 'orphaned output')} changed outside cosrecon: `cosrecon state rm {paths} "
                     "--key KEY` forgets them (delete the objects yourself if they should go).")
    if undeclared:
        steps.append(f"{_plural(undeclared, 'orphaned output')} no declared output or retired: entry could have "
                     f"written: add the retired: entry the plan's warning shows to prune them, or `cosrecon state rm "
                     f"{paths} --key KEY` forgets them.")
    if steps:
        steps.append(f"Then `cosrecon plan {paths} --detailed-exitcode` exits 0.")
    return steps
