"""The ``retired:`` list of a declaration: built into ``model.RetiredOutput`` values and checked like outputs (PURE).

Each entry describes an old output definition (address, destination bucket, fileid template, source globs) whose
recorded outputs prune and destroy may delete (``declare.authority``). Its globs must parse and its fileid may use
only the known template variables, as an output's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.declare.globs import GlobSyntaxError, compile_globs
from reconciler.declare.templates import VARIABLES, TemplateError, unknown_variables
from reconciler.model import Declaration, RetiredOutput

Location = tuple[str | int, ...]
Finding = tuple[Location, str]


def build_retired(entries: Sequence[Mapping[str, Any]], default_bucket: str) -> tuple[RetiredOutput, ...]:
    """RetiredOutput values from schema-valid ``retired:`` data (the bucket defaults to the set's)."""
    return tuple(RetiredOutput(str(e["address"]), str(e.get("bucket") or default_bucket), str(e["fileid"]),
                               tuple(e["include"]), tuple(e.get("exclude", ()))) for e in entries)


def check_retired(decl: Declaration) -> list[Finding]:
    """Problems of the ``retired:`` entries beyond the schema: globs that do not parse, unknown fileid variables."""
    findings: list[Finding] = []
    for i, entry in enumerate(decl.retired):
        base: Location = ("retired", i)
        for kind, patterns in (("include", entry.include), ("exclude", entry.exclude)):
            for j, pattern in enumerate(patterns):
                try:
                    compile_globs((pattern,))
                except GlobSyntaxError as exc:
                    findings.append((base + (kind, j), f"invalid glob: {exc}"))
                    continue
                if pattern.startswith("/"):
                    findings.append((base + (kind, j),
                                     f"glob {pattern!r} starts with '/': object keys never do (drop the '/')"))
        try:
            unknown = unknown_variables(entry.fileid)
        except TemplateError as exc:
            findings.append((base + ("fileid",), str(exc)))
            continue
        if unknown:
            names = ", ".join("{" + v + "}" for v in unknown)
            known = " ".join("{" + v + "}" for v in VARIABLES)
            findings.append((base + ("fileid",), f"unknown template variable {names} (known: {known})"))
    return findings
