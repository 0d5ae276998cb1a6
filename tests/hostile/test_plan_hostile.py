"""A saved plan that cannot be read is a StateError naming the file, never a traceback: numbers past Python's
int-from-string limit, nesting past the recursion limit, in a plan read whole or line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.plan.planfile import load_plan

LINES = '{\n  "kind": "plan",\n  "format_version": 1,\n  "sets": [],\n  "actions": [\n    %s\n  ],\n  "calls": []\n}\n'
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("text", "reason"), [
    (DEEP, "nested too deeply"),
    ('{"kind": "plan", "format_version": 1, "sets": %s}' % DEEP, "nested too deeply"),
    (LINES % DEEP, "nested too deeply"),
    ('{"kind": "plan", "format_version": %s}' % ("9" * 5000), "a number too long to read"),
    (LINES % ('{"a": %s}' % ("9" * 5000)), "a number too long to read"),
])
def test_unreadable_plans_are_state_errors(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StateError, match=reason) as caught:
        load_plan(path)
    assert str(path) in caught.value.message


def test_schema_problems_are_details_of_the_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"kind": "plan", "format_version": 1, "sets": [1]}', encoding="utf-8")
    with pytest.raises(StateError) as caught:
        load_plan(path)
    assert caught.value.headline.endswith("not a valid cosrecon plan:")
    assert "$.sets[0]: must be a mapping, not the number 1" in caught.value.details
