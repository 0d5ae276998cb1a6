"""The plan as JSON (``plan --format json``): the plan document of ``planfile``, schema ``schemas/plan.schema.json``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from reconciler.model import Plan
from reconciler.plan.planfile import iter_plan_json


def render_json(plan: Plan) -> str:
    return "".join(iter_plan_json(plan))


def write_json(plan: Plan, stream: TextIO, extra: Mapping[str, Any] | None = None) -> None:
    """Stream the document (plans of millions of outputs are never one string)."""
    for chunk in iter_plan_json(plan, extra=extra):
        stream.write(chunk)
