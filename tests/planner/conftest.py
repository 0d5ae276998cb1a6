"""Helpers the planner tests share: two buckets and a one-pipeline declaration."""

from __future__ import annotations

from typing import Any

from reconciler.declare.load import build_declaration

B, C = "src-1250000000", "cdn-1250000000"


def decl(outputs: dict[str, Any], include: list[str]) -> Any:
    """Set ``s`` in bucket ``B``: pipeline ``p`` selecting ``include``, with ``outputs``."""
    return build_declaration({"version": 1, "name": "s", "region": "ap-guangzhou", "bucket": B,
                              "pipelines": {"p": {"source": {"include": include}, "outputs": outputs}}}, "s.yaml")
