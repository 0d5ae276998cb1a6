"""Keys are user data: control characters never reach a person raw (text, markdown, apply report, progress,
errors), while JSON keeps every key exact."""

from __future__ import annotations

import io
import json

import pytest

from reconciler.cli.errors import report
from reconciler.cli.progress import LineProgress
from reconciler.errors import CollisionError, StorageError
from reconciler.model import ActionKind, Call, Plan, PlannedAction, Reason, RuleOp, SetPlan
from reconciler.plan.planfile import plan_from_data, plan_to_data
from reconciler.render import render_json, render_markdown, render_text
from reconciler.render.escape import escape_text

B = "src-1250000000"
EVIL = "photos/a\nb\rc\td\x1b[31me\x7ff.jpg"
SHOWN = "photos/a\\nb\\rc\\td\\x1b[31me\\x7ff.jpg"


def _plan(key: str) -> Plan:
    out = "thumbs/" + key
    action = PlannedAction(ActionKind.CREATE, "pipe.thumb", B, out, key, Reason.MISSING)
    call = Call.of_rules(B, key, "etag", (RuleOp("pipe.thumb", "imageMogr2/strip", "/" + out, B, out, "fp"),),
                {(B, out): (ActionKind.CREATE, Reason.MISSING, "")})
    return Plan((SetPlan("shop", "d" * 64, "1", (action,), (call,), {"pipe.thumb": 0}),))


def test_escape_text_shows_each_control_character() -> None:
    assert escape_text(EVIL) == SHOWN
    assert escape_text("a\u202eb\u2028c\x85d") == "a\\u202eb\\u2028c\\x85d"
    assert escape_text("plain/ключ 画像.jpg") == "plain/ключ 画像.jpg"
    assert escape_text(escape_text(EVIL)) == escape_text(EVIL)


def test_text_plan_shows_a_hostile_key_on_one_escaped_line() -> None:
    text = render_text(_plan(EVIL))
    lines = [line for line in text.splitlines() if "photos/a" in line]
    assert len(lines) == 1
    assert f"{B}/thumbs/{SHOWN} (from {SHOWN}; missing)" in lines[0]
    assert not any(c in text.replace("\n", "") for c in "\r\t\x1b\x7f")


def test_markdown_plan_shows_a_hostile_key_on_one_escaped_line() -> None:
    text = render_markdown(_plan(EVIL))
    lines = [line for line in text.split("\n") if "photos/a" in line]
    assert len(lines) == 1
    assert f"thumbs/{SHOWN}" in lines[0]
    assert not any(c in text.replace("\n", "") for c in "\r\t\x1b\x7f")


def test_markdown_table_cells_escape_names() -> None:
    plan = _plan("k.jpg")
    s = plan.sets[0]
    hostile = Plan((SetPlan("sh\nop|x", s.declaration_digest, "1", s.actions, s.calls, dict(s.unchanged)),))
    row = next(line for line in render_markdown(hostile).split("\n") if line.startswith("| sh"))
    assert row.startswith("| sh\\nop\\|x | pipe.thumb |")


def test_json_plan_keeps_the_key_exact() -> None:
    document = json.loads(render_json(_plan(EVIL)))
    assert document["actions"][0]["source"] == EVIL
    assert plan_from_data(plan_to_data(_plan(EVIL))).sets[0].actions[0].source == EVIL


def test_errors_are_escaped_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    report(StorageError("no such object", bucket=B, key=EVIL, code="NoSuchKey", status=404))
    err = capsys.readouterr().err
    assert err == f"Error: {B}/{SHOWN}: no such object (NoSuchKey, HTTP 404)\n"


def test_progress_lines_are_escaped() -> None:
    stream = io.StringIO()
    progress = LineProgress(stream, interval=0.0)
    progress.line = lambda now: f"apply: {EVIL}"  # type: ignore[method-assign]
    progress.start(1)
    progress.advance(done=1)
    assert stream.getvalue() == f"apply: {SHOWN}\n"


def test_error_details_stay_one_per_line_and_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    report(CollisionError("set 'shop': output keys collide; no plan is shown:", [f"{B}/{EVIL}: two sources"]))
    assert capsys.readouterr().err == (f"Error: set 'shop': output keys collide; no plan is shown:\n"
                                       f"  {B}/{SHOWN}: two sources\n")
