"""Import rules: one module per third-party dependency, a pure core, pulumi only in the Pulumi program."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"

# third-party top-level module -> the only package modules allowed to import it
ONLY_IN = {
    "qcloud_cos": {"storage/cos.py"},
    "deepdiff": {"diffing.py"},
    "pulumi": set(),  # only the Pulumi program (outside the core package's modules below)
    "ruamel": {"yamlfile.py"},
    "PIL": {"local/imaging.py"},
    "jsonschema": {"schemas.py"},
    "tqdm": {"cli/progress.py"},
}
# the pure core does no I/O: it may not import effectful modules
PURE = {"model.py", "globs.py", "templates.py", "rules.py", "planner.py", "compiled.py", "orphans.py", "overlaps.py",
        "ledger.py", "ledger_index.py", "ledger_lines.py", "ledger_stream.py"}
EFFECTFUL = {"socket", "http", "requests", "urllib3", "qcloud_cos", "subprocess", "threading", "reconciler.storage.cos",
             "reconciler.state", "reconciler.executor", "reconciler.local", "reconciler.locks", "reconciler.journal",
             "reconciler.blobs", "reconciler.evidence", "reconciler.apply_session", "reconciler.adoption",
             "reconciler.pacing", "reconciler.backend", "reconciler.observe"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules() -> list[tuple[str, set[str]]]:
    return [(p.relative_to(PACKAGE).as_posix(), _imports(p)) for p in sorted(PACKAGE.rglob("*.py"))]


def test_third_party_dependencies_have_one_home() -> None:
    offenders = []
    for rel, imports in _modules():
        for name in imports:
            top = name.split(".")[0]
            if top in ONLY_IN and rel not in ONLY_IN[top]:
                offenders.append(f"{rel} imports {name}")
    assert offenders == []


def test_pure_core_does_no_io() -> None:
    offenders = []
    for rel, imports in _modules():
        if rel in PURE:
            for name in imports:
                if any(name == e or name.startswith(e + ".") for e in EFFECTFUL):
                    offenders.append(f"{rel} imports {name}")
    assert offenders == []


def test_every_module_has_a_docstring() -> None:
    missing = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.read_text(encoding="utf-8").strip() and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert missing == []
