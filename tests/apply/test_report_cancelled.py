"""Issue 26 point 7: outputs a stopping run (Ctrl-C, SIGTERM) never issued are reported as cancelled, not as
"Failed" with the failures a retry or a fix is needed for."""

from __future__ import annotations

from reconciler.apply.contract import ApplyReport, Failure
from reconciler.render.apply_report import render_text, summary_line


def test_cancelled_outputs_are_not_failures() -> None:
    failures = (Failure("shop", "p.t", "b-1250000000", "t/a.webp", "a.jpg", "InternalError", "boom"),
                Failure("shop", "p.t", "b-1250000000", "t/b.webp", "b.jpg", "Stopped",
                        "not issued: apply was stopping"),
                Failure("shop", "p.t", "b-1250000000", "t/c.webp", "c.jpg", "Stopped",
                        "not issued: apply was stopping"))
    report = ApplyReport(created=4, failures=failures, calls=5, seconds=1.0, stopped="interrupted")
    text = render_text(report)
    assert "Failed 1 output(s):\n  b-1250000000/t/a.webp (p.t, source a.jpg): InternalError: boom" in text
    assert ("Cancelled 2 output(s): not issued, the run was stopping; the next apply makes them:\n"
            "  b-1250000000/t/b.webp (p.t, source b.jpg)\n  b-1250000000/t/c.webp (p.t, source c.jpg)") in text
    assert "Stopped:" not in text
    assert summary_line(report).startswith("Apply stopped (interrupted): 4 created, 0 replaced, 0 deleted, 1 failed, "
                                           "2 cancelled; 5 calls")
