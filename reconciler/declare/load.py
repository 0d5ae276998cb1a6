"""Load declaration files (YAML or JSON), validate them, and build ``model.Declaration`` values.

``load_declarations`` takes files and directories (searched recursively for *.yaml, *.yml, *.json; hidden
folders skipped; files found there that are plainly no declaration skipped, see ``is_declaration``), and either returns every declaration or raises ``DeclarationError`` listing every problem
across all files: unreadable paths, malformed text, schema violations, semantic checks (``checks``) and set
names declared twice. Each problem points at the offending node: ``file:line:col: json.path: message``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from reconciler.declare.checks import check_declaration, check_outputs_of
from reconciler.errors import DeclarationError, Problem
from reconciler.model import DEFAULT_STATE_PREFIX, Declaration, OutputSpec, Pipeline, SourceSpec, StateLocation
from reconciler.declare.retired import build_retired, check_retired
from reconciler.declare.schemas import json_path, schema_issues
from reconciler.declare.yamlfile import Document, LoadError, load_document, parse_text

SCHEMA = "declaration"
SUFFIXES = (".yaml", ".yml", ".json")


def load_declarations(paths: Sequence[str | Path]) -> list[Declaration]:
    """Every declaration in ``paths`` (files or directories), validated. Raises DeclarationError."""
    problems: list[Problem] = []
    searched: set[str] = set()
    files = _expand_paths(paths, problems, searched)
    declarations: list[Declaration] = []
    documents: list[Document] = []
    skipped: list[str] = []
    for file in files:
        decl, found, document = load_file(file)
        if file in searched and document is not None and not is_declaration(document.data):
            skipped.append(file)  # found by directory search and plainly something else (a compose file, a plan)
            continue
        problems.extend(sorted(found, key=lambda p: (p.line, p.column)))
        if decl is not None:
            declarations.append(decl)
        if document is not None:
            documents.append(document)
    problems.extend(_duplicate_names(documents))
    if skipped and not declarations and not problems:
        shown = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        problems.append(Problem(str(next(iter(paths))), 1, 1, "$", f"no declarations found: {len(skipped)} file(s) "
                                f"skipped as not declarations ({shown}; a declaration has version: 1 and pipelines)"))
    if problems:
        raise DeclarationError(problems)
    return declarations


def load_declaration(path: str | Path) -> Declaration:
    """One declaration file, validated. Raises DeclarationError."""
    decl, problems, _ = load_file(path)
    if problems or decl is None:
        raise DeclarationError(problems)
    return decl


def load_file(path: str | Path) -> tuple[Declaration | None, list[Problem], Document | None]:
    """Load and check one file: the declaration (None when invalid), its problems, and its document."""
    file = str(path)
    try:
        document = load_document(path, file)
    except LoadError as exc:
        return None, [Problem(file, exc.line, exc.column, "$", exc.message)], None
    return _checked(document)


def load_text(text: str, path: str) -> tuple[Declaration | None, list[Problem], Document | None]:
    """``load_file`` for text already read (``path`` names it in messages; ``.json`` reads it as JSON): the same
    steps, so the same declaration and messages as ``cosrecon validate``."""
    try:
        document = parse_text(text, path, is_json=path.lower().endswith(".json"))
    except LoadError as exc:
        return None, [Problem(path, exc.line, exc.column, "$", exc.message)], None
    return _checked(document)


def _checked(document: Document) -> tuple[Declaration | None, list[Problem], Document | None]:
    """The declaration a parsed document holds (None when invalid), every problem with it, and the document."""
    file = document.file
    if document.data is None:
        message = "empty file: expected a declaration (a mapping with version, name, region, bucket, pipelines)"
        return None, [Problem(file, 1, 1, "$", message)], document
    if not isinstance(document.data, dict):
        message = f"a declaration is a mapping (version, name, region, bucket, pipelines), not a {_kind(document.data)}"
        return None, [_problem(document, (), message)], document
    issues = schema_issues(SCHEMA, document.data)
    if issues:
        problems = [_problem(document, i.location, i.message, key=i.key) for i in issues]
        flagged = {tuple(i.location) for i in issues}
        problems += [_problem(document, loc, message) for loc, message in check_outputs_of(document.data)
                     if loc not in flagged]
        return None, problems, document
    decl = build_declaration(document.data, file)
    findings = check_declaration(decl) + check_retired(decl)
    problems = [_problem(document, loc, message) for loc, message in findings]
    return (None if problems else decl), problems, document


def build_declaration(data: dict[str, Any], path: str = "") -> Declaration:
    """A Declaration from schema-valid plain data (the schema has been checked by the caller)."""
    pipelines = []
    for pname, pdata in data["pipelines"].items():
        source = pdata["source"]
        outputs = tuple(
            OutputSpec(
                name=oname,
                rule=odata["rule"],
                fileid=odata["fileid"],
                bucket=odata.get("bucket"),
                overwrite_source=bool(odata.get("overwrite_source", False)),
            )
            for oname, odata in pdata["outputs"].items()
        )
        spec = SourceSpec(tuple(source["include"]), tuple(source.get("exclude", ())))
        pipelines.append(Pipeline(pname, spec, outputs))
    state = data.get("state") or {}
    return Declaration(
        name=data["name"],
        region=data["region"],
        bucket=data["bucket"],
        pipelines=tuple(pipelines),
        state=StateLocation(state.get("bucket", data["bucket"]), state.get("prefix", DEFAULT_STATE_PREFIX)),
        prune=bool(data.get("prune", False)),
        version=int(data["version"]),
        path=path,
        retired=build_retired(data.get("retired") or (), data["bucket"]),
        document=data,
    )


def declaration_digest(decl: Declaration) -> str:
    """Stable hex digest of the declaration's document (canonical JSON: sorted keys, no spaces)."""
    canonical = json.dumps(decl.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_declaration(data: Any) -> bool:
    """Whether a file found by directory search is taken as a declaration: anything but a mapping that has no
    ``pipelines`` key and is not ``version: 1`` with a ``name`` or ``bucket`` (so docker-compose files, workflows
    and saved plans beside declarations are skipped; text that does not parse, lists and empty files are still
    reported, as they may be broken declarations). Files named on the command line are always declarations."""
    if not isinstance(data, dict):
        return True
    return "pipelines" in data or (data.get("version") == 1 and ("name" in data or "bucket" in data))


def _expand_paths(paths: Iterable[str | Path], problems: list[Problem], searched: set[str]) -> list[str]:
    files: list[str] = []
    seen: set[str] = set()

    def add(file: str) -> None:
        real = os.path.realpath(file)
        if real not in seen:
            seen.add(real)
            files.append(file)

    for raw in paths:
        path = str(raw)
        if not os.path.exists(path):
            problems.append(Problem(path, 1, 1, "$", "no such file or directory"))
        elif os.path.isdir(path):
            found = _walk(path, problems)
            if not found and os.access(path, os.R_OK | os.X_OK):
                problems.append(Problem(path, 1, 1, "$", "directory holds no declaration files (*.yaml, *.yml, *.json)"))
            for file in found:
                add(file)
                searched.add(file)
        else:
            add(path)
    return files


def _walk(directory: str, problems: list[Problem]) -> list[str]:
    def failed(error: OSError) -> None:
        problems.append(Problem(str(error.filename or directory), 1, 1, "$", f"cannot read directory: {error.strerror}"))

    found: list[str] = []
    for root, dirs, names in os.walk(directory, onerror=failed):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.normpath(os.path.join(root, n)) for n in sorted(names) if n.lower().endswith(SUFFIXES))
    return found


def _duplicate_names(documents: list[Document]) -> list[Problem]:
    """Set names declared in more than one file (checked even when a file has other problems)."""
    problems: list[Problem] = []
    first: dict[str, Document] = {}
    for document in documents:
        name = document.data.get("name") if isinstance(document.data, dict) else None
        if not isinstance(name, str):
            continue
        other = first.setdefault(name, document)
        if other is not document:
            line, col = other.locate(("name",))
            message = f"set name {name!r} is already declared in {other.file}:{line}:{col} (names must be unique)"
            problems.append(_problem(document, ("name",), message))
    return problems


def _problem(document: Document, location: tuple[str | int, ...], message: str, *, key: bool = False) -> Problem:
    line, col = document.locate(location, key=key)
    return Problem(document.file, line, col, json_path(location), message)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__
