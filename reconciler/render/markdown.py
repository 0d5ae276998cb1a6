"""The plan as a pull-request comment: summary table per set and output, changed rules, collapsible lists.

GitHub refuses comments over 65,535 characters, so the WHOLE comment is built against one budget: the summary line,
the estimate, the links (e.g. to the saved plan and preview artifacts) and the closing note are measured and kept
first; the warnings, the table, the changed rules and the ``<details>`` lists of keys share what is left, each cut
part saying how many it leaves out. However large the plan, the result stays under ``limit`` (``COMMENT_LIMIT``).
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
_LIST_SAMPLES = 500  # keys kept per output and kind before budgeting
_LINE = 1_000  # a warning, note or link longer than this is cut
CUT_NOTE = ("_The plan is larger than one comment can hold: lists are cut. "
            "The full plan is in the saved plan file (`cosrecon plan --out`) or `cosrecon plan --full`._\n")


class _Budget:
    def __init__(self, limit: int, reserved: int) -> None:
        self.limit = limit
        self.reserved = reserved  # kept for the parts added last (estimate, links, closing note)
        self.parts: list[str] = []
        self.used = 0
        self.cut = False

    def room(self) -> int:
        return self.limit - self.used - self.reserved

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


def _short(text: str) -> str:
    return text if len(text) <= _LINE else text[: _LINE - 1] + "…"


def _bounded_lines(out: _Budget, lines: Sequence[str], share: int, what: str) -> None:
    """Add ``lines`` while they fit in ``share`` characters, then one line saying how many were left out."""
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) > share or not out.add(line):
            out.add(f"- … and {len(lines) - i} more {what}\n")
            out.cut = True
            return
        used += len(line)


def _first_lines(text: str, room: int) -> str:
    """``text`` whole when it fits in ``room``, else its first whole lines and a line saying it is cut."""
    if len(text) <= room:
        return text
    kept = text[: max(room - 40, 0)].rsplit("\n", 1)[0]
    return (kept + "\n" if kept else "") + "… (cut to fit the comment)\n"


def render_markdown(plan: Plan, *, limit: int = COMMENT_LIMIT, marker: str = MARKER,
                    warnings: Sequence[object] = (), estimate: str = "", links: Sequence[str] = ()) -> str:
    """The comment body (starting with a hidden marker so a workflow can find and update it). Deletions are listed
    open; what conflicts and orphans mean, and the ``warnings``, come right after the summary; ``estimate`` (the
    estimate's markdown) follows the table; ``links`` (markdown lines) end the comment. All of it within ``limit``:
    the per-object lists are cut first, then the table and the warnings; the summary, estimate and links stay."""
    tail = "".join(f"{_short(escape_text(link))}\n" for link in links)
    tail = _first_lines("\n" + tail, limit // 4) if tail else ""
    head = f"{marker}\n### cosrecon plan\n\n**{CONVERGED if plan.is_green else summary_line(plan)}**\n\n"
    estimate = _first_lines(estimate, limit // 2 - len(head) - len(tail) - len(CUT_NOTE))
    out = _Budget(limit, len(estimate) + 2 + len(tail) + len(CUT_NOTE))
    out.add(head)
    _bounded_lines(out, [f"> :warning: {_cell(_short(str(w)))}\n" for w in warnings], out.room() // 4, "warnings")
    notes = [(s.name, note) for s in plan.sets for note in set_notes(s)]
    out.add("\n" if warnings else "")
    _bounded_lines(out, [f"- {_cell(_short(name))}: {_cell(note)}\n" for name, note in notes], out.room() // 4,
                   "notes")
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
    if estimate:
        out.reserved -= len(estimate) + 2
        out.add("\n" + estimate + "\n")
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
        opening = (f"{opened}<summary>{SYMBOL[kind]} {_html(s.name)} · {_html(g.address)}: "
                   f"{total} {kind.value}</summary>\n\n<pre>\n")
        closing = "</pre>\n</details>\n\n"
        used = len(opening) + len(closing) + 40  # room for the "… and N more" line
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
        out.add(opening + "".join(lines) + closing)
    if out.cut:
        out.parts.append(CUT_NOTE)
    out.parts.append(tail)
    text = "".join(out.parts)
    return text if len(text) <= limit else text[: limit - 2] + "…\n"  # unreachable by construction; a last guard
