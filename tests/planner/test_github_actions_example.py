"""examples/github-actions: the workflows parse, call `cosrecon plan` with options that exist, find their comment
by the marker the markdown renderer writes, and apply the saved plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from ruamel.yaml import YAML

from reconciler.cli import main
from reconciler.render.markdown import MARKER

WORKFLOWS = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return data


def runs(workflow: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("with", {}).get("script", ""))
                     for job in workflow["jobs"].values() for step in job["steps"])


def test_plan_workflow() -> None:
    wf = load("cosrecon-plan.yml")
    assert "pull_request" in wf["on"]
    text = runs(wf)
    assert "cosrecon plan declarations/ $COSRECON_PLAN_FLAGS --format markdown --out plan.json --detailed-exitcode" in text
    assert MARKER in text and "updateComment" in text and "createComment" in text
    help_text = CliRunner().invoke(main, ["plan", "--help"]).output
    for option in ("--format", "--out", "--detailed-exitcode"):
        assert option in help_text


def test_apply_workflow_applies_within_the_reviewed_plan() -> None:
    wf = load("cosrecon-apply.yml")
    assert wf["on"]["push"]["branches"] == ["main"] and "paths" not in wf["on"]["push"]
    text = runs(wf)
    assert "gh run download" in text and "cosrecon-plan-" in text
    assert "cosrecon plan declarations/ $COSRECON_PLAN_FLAGS --format markdown --out fresh.json --within reviewed/plan.json" in text
    assert "cosrecon apply declarations/ --plan fresh.json $COSRECON_PLAN_FLAGS --yes" in text
    help_text = CliRunner().invoke(main, ["plan", "--help"]).output
    assert "--within" in help_text
