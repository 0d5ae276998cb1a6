"""What a run did, output by output: the apply report's JSON with the keys created, replaced, deleted and failed,
and the adopt summary (an adopt records, it never creates or calls, so it does not report like an apply).

``created``/``replaced``/``deleted`` are the plan's actions of that kind minus the outputs the report lists as failed
or skipped (the engine records every other one with evidence). Decides nothing, does no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reconciler.model import ActionKind, Plan, Reason
from reconciler.render.apply_report import SHOWN, render_text, report_to_data
from reconciler.render.escape import escape_lines

if TYPE_CHECKING:
    from reconciler.apply.contract import ApplyReport

_DONE = {ActionKind.CREATE: "created", ActionKind.REPLACE: "replaced", ActionKind.DELETE: "deleted"}


def _done(plan: Plan, report: ApplyReport) -> Iterator[tuple[str, dict[str, str]]]:
    left = {(f.bucket, f.key) for f in report.failures} | {(s.bucket, s.key) for s in report.skipped}
    for s in plan.sets:
        for a in s.actions:
            word = _DONE.get(a.action)
            if word is not None and (a.bucket, a.key) not in left:
                yield word, {"set": s.name, "address": a.address, "bucket": a.bucket, "key": a.key,
                             "source": a.source, "reason": a.reason.value}


def outcome_to_data(plan: Plan, report: ApplyReport) -> dict[str, Any]:
    """The apply report document plus ``outputs``: every output created, replaced, deleted, failed or skipped."""
    data = report_to_data(report)
    outputs: dict[str, list[dict[str, str]]] = {word: [] for word in _DONE.values()}
    for word, row in _done(plan, report):
        outputs[word].append(row)
    outputs["failed"] = [{"set": f.set, "address": f.address, "bucket": f.bucket, "key": f.key, "source": f.source,
                          "reason": f"{f.code}: {f.message}"} for f in report.failures]
    outputs["skipped"] = [{"set": s.set, "address": s.address, "bucket": s.bucket, "key": s.key, "source": s.source,
                           "reason": s.reason} for s in report.skipped]
    data["outputs"] = outputs
    return data


def render_outcome_json(plan: Plan, report: ApplyReport) -> str:
    return json.dumps(outcome_to_data(plan, report), indent=2, ensure_ascii=False)


def render_adoption(plan: Plan) -> str:
    """What an adopt will record: the objects standing unrecorded at declared keys, as they stand."""
    count, shown = 0, list[str]()
    for s in plan.sets:
        for call in s.calls:
            for target, key in call.pairs():
                if target.reason is Reason.REPLACE_UNMANAGED:
                    count += 1
                    if len(shown) < SHOWN:
                        shown.append(f"  + {target.bucket}/{key} ({s.name} {target.address}, from {call.key})")
    if not count:
        return "Nothing to adopt: no unrecorded object stands at a declared key."
    lines = [f"Adopt will record {count} object(s) standing at declared keys, as they are (nothing is processed):",
             *shown]
    if count > SHOWN:
        lines.append(f"  ... and {count - SHOWN} more")
    return "\n".join(escape_lines(lines))  # keys are user data


def adopt_summary(report: ApplyReport) -> str:
    """``Adopt complete: 3 recorded in the ledger, 0 failed, 1 skipped.``"""
    return (f"Adopt complete: {report.adopted} recorded in the ledger, {report.failed} failed, "
            f"{len(report.skipped)} skipped.")


def render_adopt_text(report: ApplyReport) -> str:
    """The apply report's lines (takeovers, skipped and failed outputs) under the adopt summary, not apply's."""
    lines = [line for line in render_text(report).splitlines()[:-1] if not line.startswith("Adopted ")]
    return "\n".join([*lines, adopt_summary(report)])
