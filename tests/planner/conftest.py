"""Helpers the planner tests share: two buckets and a one-pipeline declaration."""

from __future__ import annotations

from typing import Any

from tests import builders

B, C = "src-1250000000", "cdn-1250000000"


def decl(outputs: dict[str, Any], include: list[str]) -> Any:
    """Set ``s`` in bucket ``B``: pipeline ``p`` selecting ``include``, with ``outputs``."""
    return builders.declaration("s", bucket=B, pipeline="p", include=include, outputs=outputs)
