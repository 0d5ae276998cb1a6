"""Presentation of plans: text for terminals, JSON for machines, markdown for pull-request comments.

Renderers take ``model`` values and return (or stream) text. They decide nothing and do no I/O except writing to
the stream they are given.
"""

from __future__ import annotations

from reconciler.render.json import render_json, write_json
from reconciler.render.markdown import COMMENT_LIMIT, render_markdown
from reconciler.render.text import render_text, summary_line

__all__ = ["COMMENT_LIMIT", "render_json", "render_markdown", "render_text", "summary_line", "write_json"]
