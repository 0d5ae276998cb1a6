"""The plan as a pull-request comment: summary table per set and output, changed rules, collapsible lists.

GitHub refuses comments over 65,535 characters, so the comment is built against a budget: the summary line and
table come first, then the changed rules, then ``<details>`` lists of keys until the budget runs out, each cut
list saying how many it leaves out. However large the plan, the result stays under ``COMMENT_LIMIT``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from reconciler.model import ActionKind, Plan
from reconciler.render.escape import escape_text
from reconciler.render.groups import SHOWN_KINDS, SYMBOL, describe, group_set
from reconciler.render.notes import set_notes
from reconciler.render.text import CONVERGED, summary_line

COMMENT_LIMIT = 65_535
MARKER = "<!-- cosrecon-plan -->"
_RESERVE = 400  # kept free for the closing note
_LIST_SAMPLES = 500  # keys kept per output and kind before budgeting


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.used = 0
        self.cut = False

    def room(self) -> int:
        return self.limit - self.used - _RESERVE

    def fits(self, text: str) -> bool:
        return len(text) <= self.room()

    def add(self, text: str) -> bool:
        if not self.fits(text):
            self.cut = True
            return False
        self.parts.append(text)
        self.used += len(text)
        return True


def _cell(text: str) -> str:
    return escape_text(text).replace("|", "\\|")


def _code(text: str) -> str:
    text = escape_text(text)
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _html(text: str) -> str:
    """One line of text inside HTML: control characters escaped, then ``<>&"'``."""
    return html.escape(escape_text(text))


def render_markdown(plan: Plan, *, limit: int = COMMENT_LIMIT, marker: str = MARKER,
                    warnings: Sequence[object] = ()) -> str:
    """The comment body (starting with a hidden marker so a workflow can find and update it). Deletions are listed
    open; what conflicts and orphans mean, and the ``warnings``, come right after the summary."""
    out = _Budget(limit)
    out.add(f"{marker}\n### cosrecon plan\n\n")
    out.add(f"**{CONVERGED if plan.is_green else summary_line(plan)}**\n\n")
    for warning in warnings:
        out.add(f"> :warning: {_cell(str(warning))}\n")
    notes = [(s.name, note) for s in plan.sets for note in set_notes(s)]
    out.add("\n" if warnings else "")
    for name, note in notes:
        out.add(f"- {_cell(name)}: {_cell(note)}\n")
    out.add("\n" if notes else "")
    out.add("| set | output | create | replace | delete | conflict | orphaned | unchanged |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|\n")
    grouped = [(s, group_set(s, _LIST_SAMPLES)) for s in plan.sets]
    rows = [(s.name, g) for s, g_list in grouped for g in g_list]
    for i, (name, g) in enumerate(rows):
        cells = [str(g.count(k)) for k in (*SHOWN_KINDS, ActionKind.UNCHANGED)]
        if not out.add(f"| {_cell(name)} | {_cell(g.address)} | " + " | ".join(cells) + " |\n"):
            out.cut = False
            out.add(f"| … | {len(rows) - i} more outputs | | | | | | |\n")
            break
    changes = [(s.name, a, old, new) for s in plan.sets for a, (old, new) in s.rule_changes.items()]
    if changes:
        out.add("\n**Changed rules**\n\n")
        for name, address, old, new in changes:
            if not out.add(f"- {_cell(name)} · {_code(address)}: {_code(old)} → {_code(new)}\n"):
                break
    out.add("\n")
    lists = [(s, g, kind) for s, groups in grouped for g in groups for kind in SHOWN_KINDS if g.count(kind)]
    for index, (s, g, kind) in enumerate(lists):
        total = g.count(kind)
        share = out.room() // (len(lists) - index)  # a fair share; what a list leaves goes to the next ones
        opened = "<details open>" if kind is ActionKind.DELETE else "<details>"  # deletions: seen without a click
        head = (f"{opened}<summary>{SYMBOL[kind]} {_html(s.name)} · {_html(g.address)}: "
                f"{total} {kind.value}</summary>\n\n<pre>\n")
        tail = "</pre>\n</details>\n\n"
        used = len(head) + len(tail) + 40  # room for the "… and N more" line
        if used > share:
            out.cut = True
            continue
        lines: list[str] = []
        for action in g.shown.get(kind, []):
            line = _html(describe(action, detail=g.address not in s.rule_changes)) + "\n"
            if used + len(line) > share:
                break
            lines.append(line)
            used += len(line)
        hidden = total - len(lines)
        if hidden:
            lines.append(f"… and {hidden} more\n")
            out.cut = True
        out.add(head + "".join(lines) + tail)
    if out.cut:
        out.parts.append("_The plan is larger than one comment can hold: lists are cut. "
                         "The full plan is in the saved plan file (`cosrecon plan --out`) or `cosrecon plan --full`._\n")
    text = "".join(out.parts)
    return text if len(text) <= limit else text[: limit - 2] + "…\n"
