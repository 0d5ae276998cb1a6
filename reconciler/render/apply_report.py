"""Apply reports for people and machines: the summary line, failures (key, COS code, message, request id),
skipped outputs and lock takeovers as text; or one versioned JSON document. Decides nothing, does no I/O."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from reconciler.render.escape import escape_lines

if TYPE_CHECKING:
    from reconciler.apply.contract import ApplyReport

FORMAT_VERSION = 1
SHOWN = 20  # failures/skips listed before "... and N more"


CANCELLED = "Stopped"  # the code of an output not issued because the run was stopping (Ctrl-C, SIGTERM, ...)


def _cancelled(report: ApplyReport) -> int:
    return sum(1 for f in report.failures if f.code == CANCELLED)


def summary_line(report: ApplyReport, run: str = "Apply", calls: str = "calls") -> str:
    """``Apply complete: 12 created, 3 replaced, 0 deleted, 0 failed; 9 calls in 4.1s (2.2 calls/s).`` Outputs
    not issued because the run was stopping are counted as cancelled, not failed."""
    state = f"{run} stopped ({report.stopped})" if report.stopped else f"{run} complete"
    cancelled = _cancelled(report)
    return (f"{state}: {report.created} created, {report.replaced} replaced, {report.deleted} deleted, "
            f"{report.failed - cancelled} failed{f', {cancelled} cancelled' if cancelled else ''}; "
            f"{report.calls} {calls} in {report.seconds:.1f}s ({report.calls_per_second:.1f} {calls}/s).")


def render_text(report: ApplyReport, run: str = "Apply", calls: str = "calls") -> str:
    """The report for a terminal; ``run`` names the run and ``calls`` its requests (``Upload``: the PUTs with
    processing and the image_process calls)."""
    lines = [f"Note: {t}" for t in report.takeovers] + [f"Warning: {w}" for w in report.warnings]
    if report.adopted:
        lines.append(f"Adopted {report.adopted} existing output(s) into the ledger.")
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} output(s):")
        for s in report.skipped[:SHOWN]:
            lines.append(f"  {s.bucket}/{s.key} ({s.address}, source {s.source}): {s.reason}")
        if len(report.skipped) > SHOWN:
            lines.append(f"  ... and {len(report.skipped) - SHOWN} more")
    failed = [f for f in report.failures if f.code != CANCELLED]
    if failed:
        lines.append(f"Failed {len(failed)} output(s):")
        for f in failed[:SHOWN]:
            request = f" (request id {f.request_id})" if f.request_id else ""
            lines.append(f"  {f.bucket}/{f.key} ({f.address}, source {f.source}): {f.code}: {f.message}{request}")
        if len(failed) > SHOWN:
            lines.append(f"  ... and {len(failed) - SHOWN} more")
    cancelled = [f for f in report.failures if f.code == CANCELLED]
    if cancelled:
        lines.append(f"Cancelled {len(cancelled)} output(s): not issued, the run was stopping; the next apply "
                     "makes them:")
        lines.extend(f"  {f.bucket}/{f.key} ({f.address}, source {f.source})" for f in cancelled[:SHOWN])
        if len(cancelled) > SHOWN:
            lines.append(f"  ... and {len(cancelled) - SHOWN} more")
    lines.append(summary_line(report, run, calls))
    return "\n".join(escape_lines(lines))


def report_to_data(report: ApplyReport) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "apply-report",
        "summary": {"created": report.created, "replaced": report.replaced, "deleted": report.deleted,
                    "adopted": report.adopted, "failed": report.failed, "skipped": len(report.skipped),
                    "calls": report.calls, "attempts": report.attempts, "seconds": round(report.seconds, 3),
                    "calls_per_second": round(report.calls_per_second, 2)},
        "failures": [{"set": f.set, "address": f.address, "bucket": f.bucket, "key": f.key, "source": f.source,
                      "code": f.code, "message": f.message, "request_id": f.request_id, "status": f.status}
                     for f in report.failures],
        "skipped": [{"set": s.set, "address": s.address, "bucket": s.bucket, "key": s.key, "source": s.source,
                     "reason": s.reason} for s in report.skipped],
        "takeovers": list(report.takeovers),
        "warnings": list(report.warnings),
        "stopped": report.stopped,
        "generations": dict(report.generations),
    }


def render_json(report: ApplyReport) -> str:
    return json.dumps(report_to_data(report), indent=2, ensure_ascii=False)
