"""Every module says what it is for. (Import rules are import-linter contracts: see .importlinter.)"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"


def test_every_module_has_a_docstring() -> None:
    missing = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.read_text(encoding="utf-8").strip() and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert missing == []
