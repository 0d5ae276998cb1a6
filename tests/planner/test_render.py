"""Renderers and the plan document: text summary and sampling, JSON schema, markdown size limit, save/load."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import StateError
from reconciler.model import ActionKind, Call, Plan, PlannedAction, Reason, RuleOp, SetPlan
from reconciler.plan.planfile import load_plan, plan_from_data, plan_to_data, save_plan
from reconciler.render.markdown import MARKER
from reconciler.render import COMMENT_LIMIT, render_json, render_markdown, render_text, summary_line, write_json

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))
B = "src-1250000000"


def make_plan(n: int = 3, addresses: int = 1, *, conflicts: int = 0, rule_change: bool = False) -> Plan:
    actions, calls = [], []
    for a in range(addresses):
        address = f"pipe.out{a}"
        for i in range(n):
            key, src = f"o{a}/k{i:07d}.webp", f"src/k{i:07d}.jpg"
            reason = Reason.RULE_CHANGED if rule_change else Reason.MISSING
            kind = ActionKind.REPLACE if rule_change else ActionKind.CREATE
            detail = "old -> new" if rule_change else ""
            actions.append(PlannedAction(kind, address, B, key, src, reason, detail))
            calls.append(Call.of_rules(B, src, "etag", (RuleOp(address, "imageMogr2/strip", "/" + key, B, key, "fp"),),
                              {(B, key): (kind, reason, detail)}))
    for i in range(conflicts):
        actions.append(PlannedAction(ActionKind.CONFLICT, "pipe.out0", B, f"c/{i}", f"src/{i}", Reason.UNMANAGED))
    actions.append(PlannedAction(ActionKind.ORPHANED, "pipe.gone", B, "old/x", "src/x", Reason.NOT_DECLARED))
    s = SetPlan("shop", "d" * 64, "4", tuple(actions), tuple(calls), {f"pipe.out{a}": 7 for a in range(addresses)},
                {"pipe.out0": ("imageMogr2/thumbnail/200x", "imageMogr2/thumbnail/300x|strip")} if rule_change else {})
    return Plan((s,))


def test_summary_line_format() -> None:
    plan = make_plan(3, 2, conflicts=4)
    assert summary_line(plan) == "Plan: 6 to create, 0 to replace, 0 to delete, 4 conflicts, 1 orphaned, " \
                                 "14 unchanged; 6 image_process calls."
    one = make_plan(1, 1, conflicts=1)
    assert summary_line(one).endswith("1 conflict, 1 orphaned, 7 unchanged; 1 image_process call.")


def test_text_lists_small_plans_and_summarises_large_ones() -> None:
    small = render_text(make_plan(2, rule_change=True))
    assert "pipeline pipe:" in small
    assert "~ src-1250000000/o0/k0000001.webp (from src/k0000001.jpg; rule-changed)" in small  # rule shown once
    assert "rule changed: imageMogr2/thumbnail/200x -> imageMogr2/thumbnail/300x|strip" in small
    assert "? src-1250000000/old/x (from src/x; not-declared)" in small
    large = make_plan(1000, conflicts=5)
    text = render_text(large)
    assert "+ ... and 997 more (--full lists all)" in text and text.count("\n") < 40
    assert "! src-1250000000/c/0 (from src/0; unmanaged)" in text
    assert "pipe.out0: 1000 to create, 5 conflicts, 7 unchanged" in text
    full = render_text(large, full=True)
    assert full.count("\n+") == 0 and full.count("      + ") == 1000


def test_text_converged() -> None:
    converged = Plan((SetPlan("shop", "d", "1", (), (), {"p.o": 5}),))
    assert render_text(converged) == "No changes. Outputs match the declarations.\n(5 unchanged.)\n"


def test_json_matches_schema_and_round_trips() -> None:
    plan = make_plan(7, 2, conflicts=2, rule_change=True)
    data = json.loads(render_json(plan))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data == plan_to_data(plan)
    assert data["summary"] == {"create": 0, "replace": 14, "delete": 0, "unchanged": 14, "conflict": 2,
                               "orphaned": 1, "calls": 14}
    assert plan_from_data(data) == plan
    stream = io.StringIO()
    write_json(plan, stream)
    assert json.loads(stream.getvalue()) == data


def test_save_and_load(tmp_path: Path) -> None:
    plan = make_plan(3, 2, conflicts=1)
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    assert load_plan(path) == plan
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temp files left


def test_saved_plans_are_read_line_by_line_and_equal_the_whole_document(tmp_path: Path) -> None:
    from reconciler.plan import planfile

    plan = make_plan(4, 3, conflicts=2, rule_change=True)
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    with path.open(encoding="utf-8") as stream:
        by_lines = planfile._read_lines(stream, str(path))
    assert by_lines is not None and by_lines == plan == plan_from_data(json.loads(path.read_text()))
    assert [a.action.value for a in by_lines.sets[0].actions].count("replace") == 12
    reindented = tmp_path / "re.json"  # the same JSON laid out otherwise: read whole
    reindented.write_text(json.dumps(json.loads(path.read_text()), indent=4))
    with reindented.open(encoding="utf-8") as stream:
        assert planfile._read_lines(stream, str(reindented)) is None
    assert load_plan(reindented) == plan
    empty = Plan((SetPlan("shop", "d", "1", (), (), {"p.o": 5}),))
    save_plan(empty, path)
    assert load_plan(path) == empty


def test_a_wrong_item_past_the_schema_sample_is_named_by_its_index(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.plan import planfile

    monkeypatch.setattr(planfile, "_SCHEMA_CHECK_LIMIT", 2)
    path = tmp_path / "plan.json"
    save_plan(make_plan(4, 2), path)
    lines = path.read_text().split("\n")
    first = next(i for i, line in enumerate(lines) if '"actions": [' in line)
    lines[first + 6] = lines[first + 6].replace('"reason": "missing"', '"reason": 7')
    path.write_text("\n".join(lines))
    with pytest.raises(StateError, match=r"\$\.actions\[5\]\.reason"):
        load_plan(path)


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace('"key": "o1/k0000002.webp", "source"', '"key": "o1/elsewhere.webp", "source"'),
     "which no create or replace action of that source names"),
    (lambda text: text.replace('"source": "src/k0000001.jpg"', '"source": "src/other.jpg"', 1),
     "which no create or replace action of that source names"),
    (lambda text: text.replace('"actions": [', '"actions": [\n    {"set": "shop", "action": "create", "address": '
                               '"pipe.out0", "bucket": "src-1250000000", "key": "x.webp", "source": "src/x.jpg", '
                               '"reason": "missing", "detail": ""},', 1),
     "create or replace actions that no call makes: src-1250000000/x.webp"),
])
def test_calls_and_their_actions_must_agree(tmp_path: Path, edit: Callable[[str], str], message: str) -> None:
    path = tmp_path / "plan.json"
    save_plan(make_plan(3, 2), path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(StateError, match=message):
        load_plan(path)


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00junk", "not UTF-8"),
    (b"{not json", "invalid JSON"),
    (b"[]", "not a cosrecon plan"),
    (b'{"kind": "ledger"}', "not a cosrecon plan"),
    (b'{"kind": "plan", "format_version": 9}', "format_version 9 is not supported"),
    (b'{"kind": "plan", "format_version": 1, "summary": {}, "sets": [], "actions": [], "calls": [{}]}', "$.calls[0]"),
])
def test_load_refuses_garbage_with_a_clear_message(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(StateError) as info:
        load_plan(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_load_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot read the plan"):
        load_plan(tmp_path / "nope.json")


def test_markdown_small() -> None:
    md = render_markdown(make_plan(3, conflicts=1, rule_change=True))
    assert md.startswith("<!-- cosrecon-plan -->\n")
    assert "| shop | pipe.out0 | 0 | 3 | 0 | 1 | 0 | 7 |" in md
    assert "`imageMogr2/thumbnail/200x` → `imageMogr2/thumbnail/300x|strip`" in md
    assert "<details><summary>~ shop · pipe.out0: 3 replace</summary>" in md
    assert "cut" not in md


def test_markdown_never_exceeds_the_comment_limit_however_large() -> None:
    huge = make_plan(20_000, 10, conflicts=3000)  # 203,000 actions, keys ~40 characters each
    md = render_markdown(huge)
    assert len(md) <= COMMENT_LIMIT
    assert "| shop | pipe.out9 | 20000 | 0 | 0 | 0 | 0 | 7 |" in md
    assert "… and" in md and "lists are cut" in md
    assert md.count("<details>") == md.count("</details>")
    tiny = render_markdown(huge, limit=3000)
    assert len(tiny) <= 3000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(data=json_values, fields=st.dictionaries(st.sampled_from(["summary", "sets", "actions", "calls"]), json_values))
def test_plan_documents_of_any_shape_load_or_raise_state_error(data: object, fields: dict[str, object]) -> None:
    for document in (data, {"kind": "plan", "format_version": 1, "summary": {}, "sets": [], "actions": [],
                            "calls": [], **fields}):
        try:
            plan_from_data(document)
        except StateError as exc:
            assert str(exc).startswith("plan: ")


def test_markdown_keeps_estimate_warnings_and_links_inside_the_limit_for_a_hundred_thousand_actions() -> None:
    """Issue 26 point 1: the estimate used to be appended after the cut (65,962 characters) and the workflow's link
    on top of that; now the summary, estimate and links are measured first and the per-object lists are cut."""
    huge = make_plan(10_000, 10, conflicts=100)  # 100,100 actions and one orphan
    estimate = "**Estimate** (list prices ...). total: 100000 calls, about 5.6 min, 12.50 CNY for the priced items.\n\n" \
        + "| set | calls |\n|---|---:|\n" + "".join(f"| set{i} | {i} |\n" for i in range(50))
    warnings = [f"Warning: s.yaml:{i}:3: warning number {i} " + "x" * 300 for i in range(400)]
    links = ["**Full plan**: the `cosrecon-plan` artifact of [this run](https://github.com/o/r/actions/runs/1)"]
    md = render_markdown(huge, warnings=warnings, estimate=estimate, links=links)
    assert len(md) <= COMMENT_LIMIT
    assert md.startswith(MARKER) and "**Plan: 100000 to create" in md.split("\n")[3]
    assert estimate in md  # whole
    assert md.rstrip("\n").endswith(links[0])
    assert "lists are cut" in md and "… and" in md
    assert "more warnings" in md  # 400 warnings of 330 characters do not all fit; the cut says so
    assert md.count("<details>") == md.count("</details>")
    # even at a small limit: summary, estimate and link kept, and the limit holds
    small = render_markdown(huge, warnings=warnings, estimate=estimate, links=links, limit=8_000)
    assert len(small) <= 8_000 and links[0] in small and "total: 100000 calls" in small


def test_markdown_cuts_an_estimate_too_large_for_the_comment_at_a_line() -> None:
    estimate = "".join(f"| set{i} | {i} |\n" for i in range(10_000))
    md = render_markdown(make_plan(3), estimate=estimate, limit=5_000)
    assert len(md) <= 5_000 and "| set0 | 0 |" in md and "cut to fit the comment" in md
