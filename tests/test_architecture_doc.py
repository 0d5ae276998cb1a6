"""docs/architecture.md has a line for every module of the package, and names no module that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"


def _documented() -> set[str]:
    """Module paths under reconciler/ as the tree in docs/architecture.md spells them (folder lines set the folder)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = text[text.index("reconciler/\n"):]
    tree = tree[:tree.index("```")]
    folder, found = "", set()
    for line in tree.splitlines()[1:]:
        match = re.match(r"( +)(\S+)", line)
        if match is None:
            break  # back at column 0: the tree of the package ends
        depth, name = len(match.group(1)) // 2, match.group(2)
        if name.endswith("/"):
            folder = name if depth == 1 else folder
        elif name.endswith(".py"):
            found.add(name if depth == 1 else folder + name)
    return found


def test_every_module_has_its_line() -> None:
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    modules -= {"__init__.py", "__main__.py"} | {m for m in modules if m.endswith("/__init__.py")}
    documented = _documented()
    assert sorted(modules - documented) == [], "modules without a line in docs/architecture.md"
    assert sorted(documented - modules - {m for m in documented if m.endswith("__init__.py")}) == [], \
        "lines for modules that do not exist"
