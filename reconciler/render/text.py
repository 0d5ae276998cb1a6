"""The plan for a terminal: grouped by set and pipeline, one line per change, and the summary line.

``+`` create, ``~`` replace (with its reason; a rule change shows old -> new), ``-`` delete, ``!`` conflict,
``?`` orphaned (kept). Plans with more than ``FULL_LIMIT`` listed actions are summarised: counts per output and a
few sample keys, unless ``full``.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import ActionKind, Plan, SetPlan
from reconciler.render.escape import escape_lines
from reconciler.render.groups import SHOWN_KINDS, SYMBOL, describe, group_set
from reconciler.render.notes import set_notes

FULL_LIMIT = 200
SAMPLES = 3
CONVERGED = "No changes. Outputs match the declarations."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary_line(plan: Plan) -> str:
    """``Plan: 12 to create, 3 to replace, 0 to delete, 4 conflicts, 980 unchanged; 9 image_process calls.``"""
    return (
        f"Plan: {plan.count(ActionKind.CREATE)} to create, {plan.count(ActionKind.REPLACE)} to replace, "
        f"{plan.count(ActionKind.DELETE)} to delete, {_plural(plan.count(ActionKind.CONFLICT), 'conflict')}, "
        + (f"{plan.count(ActionKind.ORPHANED)} orphaned, " if plan.count(ActionKind.ORPHANED) else "")
        + f"{plan.count(ActionKind.UNCHANGED)} unchanged; {_plural(plan.calls, 'image_process call')}."
    )


def _counts(counts: dict[ActionKind, int]) -> str:
    words = {ActionKind.CREATE: "to create", ActionKind.REPLACE: "to replace", ActionKind.DELETE: "to delete",
             ActionKind.ORPHANED: "orphaned", ActionKind.UNCHANGED: "unchanged"}
    parts = [_plural(counts[k], "conflict") if k is ActionKind.CONFLICT else f"{counts[k]} {words[k]}"
             for k in (*SHOWN_KINDS, ActionKind.UNCHANGED) if counts.get(k)]
    return ", ".join(parts) or "nothing declared yet"


def _render_set(s: SetPlan, full: bool) -> list[str]:
    summarise = not full and len(s.actions) > FULL_LIMIT
    lines = [f"Set {s.name}:"]
    pipeline = None
    for group in group_set(s, None if not summarise else SAMPLES):
        if group.pipeline != pipeline:
            pipeline = group.pipeline
            lines.append(f"  pipeline {pipeline}:")
        lines.append(f"    {group.address}: {_counts(group.counts)}")
        change = s.rule_changes.get(group.address)
        if change and group.count(ActionKind.REPLACE):
            lines.append(f"      rule changed: {change[0]} -> {change[1]}")
        for kind in SHOWN_KINDS:
            shown = group.shown.get(kind, [])
            for action in shown:  # a rule change is shown once above, not on every line
                lines.append(f"      {SYMBOL[kind]} {describe(action, detail=not change)}")
            hidden = group.count(kind) - len(shown)
            if hidden > 0:
                lines.append(f"      {SYMBOL[kind]} ... and {hidden} more (--full lists all)")
    lines.extend(f"  {note}" for note in set_notes(s))
    return lines


def render_text(plan: Plan, *, full: bool = False, estimate: Sequence[str] = ()) -> str:
    """The whole plan as text, ending with the summary line (or the converged message); ``estimate`` lines (the
    plan estimate) stand just above the summary line of a plan with changes."""
    if plan.is_green:  # orphans are no "No changes": they are listed, counted and explained below
        unchanged = plan.count(ActionKind.UNCHANGED)
        return f"{CONVERGED}\n" + (f"({unchanged} unchanged.)\n" if unchanged else
                                    "(No source objects match the include globs.)\n")
    lines = []
    for s in plan.sets:
        lines.extend(_render_set(s, full))
        lines.append("")
    lines.extend([*estimate, ""] if estimate else [])
    lines.append(summary_line(plan))
    return "\n".join(escape_lines(lines)) + "\n"  # one line per line: keys are user data
