"""Semantic checks of one declaration beyond its schema. Pure: no I/O.

Globs and rules must parse; fileid templates may use only known variables. Checks that need real keys
(rendered keys with ``..`` or empty segments, two outputs writing one object, outputs that the set's own
globs would pick up again, an output overwriting its own source) reason with representative sample keys
derived from the include patterns: each ``*`` becomes a name, each ``**`` both nothing and two directories.
Every problem is ``(location, message)``, the location being the JSON path of the offending node.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.declare.globs import GlobSyntaxError, Selector, base_dir, compile_globs, fixed_prefix
from reconciler.model import Declaration, OutputSpec, Pipeline
from reconciler.declare.rules import RuleError, parse_rule
from reconciler.declare.templates import (
    VARIABLES,
    TemplateError,
    key_problem,
    output_key,
    source_variables,
    unknown_variables,
)

Location = tuple[str | int, ...]
Finding = tuple[Location, str]

_DEEP = "d1/d2/"
# Sample keys of a set's state folder (ledger, lock, a journal segment). declare sits below state and cannot import its
# layout; tests/state/test_layout.py keeps these equal to state.store's and state.locks' names.
STATE_FILES = ("ledger.jsonl", "lock.json", "journal/run-000001.json")


def check_declaration(decl: Declaration) -> list[Finding]:
    """Every semantic problem of one declaration, in declaration order."""
    findings: list[Finding] = []
    usable: dict[str, Selector] = {}
    templates_ok: set[str] = set()
    for pipeline in decl.pipelines:
        base: Location = ("pipelines", pipeline.name)
        if _check_globs(pipeline, base, findings):
            usable[pipeline.name] = _selector(decl, pipeline)
        for output in pipeline.outputs:
            loc = base + ("outputs", output.name)
            try:
                parse_rule(output.rule)
            except RuleError as exc:
                findings.append((loc + ("rule",), str(exc)))
            if _check_template(output, loc + ("fileid",), findings):
                templates_ok.add(decl.address(pipeline, output))
    findings.extend(_check_state(decl, usable))
    findings.extend(_check_keys(decl, usable, templates_ok))
    for pipeline in decl.pipelines:  # a bad glob must not hide a '..' fileid: check with the globs that are fine
        if pipeline.name not in usable:
            includes = _usable_globs(pipeline.source.include)
            for output in pipeline.outputs:
                if decl.address(pipeline, output) in templates_ok:
                    where: Location = ("pipelines", pipeline.name, "outputs", output.name, "fileid")
                    findings.extend((where, m) for m in _key_problems(output.fileid, includes)[:1])
    return findings


def _check_state(decl: Declaration, usable: dict[str, Selector]) -> list[Finding]:
    """In the source bucket, the ledger's prefix and the sources must not overlap: keys under the prefix are never
    sources, so a glob there would silently select nothing, and sources there would silently be skipped."""
    if decl.state.bucket != decl.bucket:
        return []
    prefix = decl.state.prefix
    ledger_keys = [f"{prefix}{decl.name}/{name}" for name in STATE_FILES]
    findings: list[Finding] = []
    for pipeline in decl.pipelines:
        if pipeline.name not in usable:
            continue
        for i, pattern in enumerate(pipeline.source.include):
            if fixed_prefix(pattern).startswith(prefix):
                findings.append((("pipelines", pipeline.name, "source", "include", i),
                                 f"glob {pattern!r} lies under the ledger prefix {prefix!r}, whose keys are never "
                                 "sources: it selects nothing (move the ledger with state.prefix)"))
        selector = Selector(pipeline.source.include, pipeline.source.exclude)
        hit = next((key for key in ledger_keys if selector.matches(key)), None)
        if hit is not None:
            findings.append((("state", "prefix"),
                             f"the ledger prefix {prefix!r} overlaps the sources of pipeline {pipeline.name!r} (its "
                             f"globs select the ledger's {hit!r}): exclude {prefix + '**'!r} or choose another prefix"))
    return findings


def output_nodes(document: Any) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(pipeline, output, output node) of a declaration document, as far as it has that shape (never raises)."""
    pipelines = document.get("pipelines") if isinstance(document, Mapping) else None
    if not isinstance(pipelines, Mapping):
        return
    for pname, pdata in pipelines.items():
        outputs = pdata.get("outputs") if isinstance(pdata, Mapping) else None
        if not isinstance(outputs, Mapping):
            continue
        for oname, odata in outputs.items():
            if isinstance(odata, Mapping):
                yield str(pname), str(oname), odata


def check_outputs_of(data: Any) -> list[Finding]:
    """Rule and fileid problems of a document the schema refused elsewhere, so one run still reports them all.

    Only string rules and fileids are checked.
    """
    findings: list[Finding] = []
    for pname, oname, odata in output_nodes(data):
        loc: Location = ("pipelines", pname, "outputs", oname)
        rule, fileid = odata.get("rule"), odata.get("fileid")
        if isinstance(rule, str):
            try:
                parse_rule(rule)
            except RuleError as exc:
                findings.append((loc + ("rule",), str(exc)))
        if isinstance(fileid, str) and _check_template(OutputSpec(oname, "", fileid), loc + ("fileid",), findings):
            findings.extend((loc + ("fileid",), m) for m in _key_problems(fileid, _includes(data, pname))[:1])
    return findings


def _includes(data: Mapping[str, Any], pipeline: str) -> list[str]:
    """A schema-refused document's include globs of ``pipeline``, as far as they are usable strings."""
    source = data["pipelines"][pipeline].get("source")
    include = source.get("include") if isinstance(source, Mapping) else None
    return _usable_globs(include if isinstance(include, list) else ())


def _usable_globs(patterns: Iterable[object]) -> list[str]:
    """The patterns that are globs a key can match (the others are reported where they stand)."""
    found = []
    for pattern in patterns:
        try:
            if isinstance(pattern, str) and not pattern.startswith("/") and compile_globs((pattern,)):
                found.append(pattern)
        except GlobSyntaxError:
            continue
    return found


def _key_problems(fileid: str, includes: list[str]) -> list[str]:
    """Unusable keys (``..``, empty segments) ``fileid`` renders to for the sample sources of ``includes``."""
    found = []
    for pattern in includes:
        for source in sample_keys(pattern):
            key = output_key(fileid, source_variables(source, base_dir(pattern)), source)
            problem = key_problem(key)
            if problem:
                found.append(f"fileid {problem}, for source {source!r}")
    return found


def _selector(decl: Declaration, pipeline: Pipeline) -> Selector:
    never = decl.state.prefix if decl.state.bucket == decl.bucket else ""
    return Selector(pipeline.source.include, pipeline.source.exclude, never)


def _check_globs(pipeline: Pipeline, base: Location, findings: list[Finding]) -> bool:
    ok = True
    for kind, patterns in (("include", pipeline.source.include), ("exclude", pipeline.source.exclude)):
        for i, pattern in enumerate(patterns):
            loc = base + ("source", kind, i)
            try:
                compile_globs((pattern,))
            except GlobSyntaxError as exc:
                findings.append((loc, f"invalid glob: {exc}"))
                ok = False
                continue
            if pattern.startswith("/"):
                findings.append((loc, f"glob {pattern!r} starts with '/': object keys never do (drop the '/')"))
                ok = False
    return ok


def _check_template(output: OutputSpec, loc: Location, findings: list[Finding]) -> bool:
    try:
        unknown = unknown_variables(output.fileid)
    except TemplateError as exc:
        findings.append((loc, str(exc)))
        return False
    if unknown:
        names = ", ".join("{" + v + "}" for v in unknown)
        known = " ".join("{" + v + "}" for v in VARIABLES)
        findings.append((loc, f"unknown template variable {names} (known: {known})"))
        return False
    if output.fileid.endswith("/"):
        findings.append((loc, "a fileid must not end with '/'"))
        return False
    return True


def sample_keys(pattern: str) -> list[str]:
    """Representative keys a glob matches: a shallow one and, when it has ``**``, a deep one."""
    shallow, deep = _expand(pattern, deep=False), _expand(pattern, deep=True)
    return [shallow] if shallow == deep else [shallow, deep]


def _expand(pattern: str, *, deep: bool) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if i < n and pattern[i] == "/":
                out.append(_DEEP if deep else "")
                i += 1
            else:
                out.append(_DEEP + "sample" if deep else "sample")
        elif ch == "*":
            out.append("sample")
            i += 1
        elif ch == "?":
            out.append("x")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 2)
            body = pattern[i + 1 : end if end > 0 else n]
            out.append(_class_char(body))
            i = end + 1 if end > 0 else n
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _class_char(body: str) -> str:
    if body[:1] in ("!", "^"):
        excluded = set(body[1:])
        return next((c for c in "xyzqk0" if c not in excluded), "x")
    return body[:1] or "x"


@dataclass(frozen=True)
class _Made:
    address: str
    location: Location
    bucket: str
    key: str


def _check_keys(decl: Declaration, selectors: dict[str, Selector], templates_ok: set[str]) -> list[Finding]:
    samples: list[str] = []
    for pipeline in decl.pipelines:
        if pipeline.name in selectors:
            for pattern in pipeline.source.include:
                samples.extend(s for s in sample_keys(pattern) if s not in samples)
    findings: dict[tuple[str, str], Finding] = {}  # (address, kind) -> first finding
    for source in samples:
        made: dict[tuple[str, str], _Made] = {}
        for pipeline in decl.pipelines:
            selector = selectors.get(pipeline.name)
            if selector is None or not selector.matches(source):
                continue
            for output in pipeline.outputs:
                address = decl.address(pipeline, output)
                if address not in templates_ok:
                    continue
                loc: Location = ("pipelines", pipeline.name, "outputs", output.name, "fileid")
                variables = source_variables(source, selector.base_for(source))
                key = output_key(output.fileid, variables, source)
                bucket = decl.output_bucket(output)
                for kind, message in _key_findings(decl, selectors, output, source, bucket, key):
                    findings.setdefault((address, kind), (loc, message))
                first = made.setdefault((bucket, key), _Made(address, loc, bucket, key))
                if first.address != address:
                    findings.setdefault(
                        (address, "collision"),
                        (loc, f"writes the same object as {first.address} ({bucket}/{key} from source {source!r}):"
                              " one output would silently overwrite the other"),
                    )
    return list(findings.values())


def _key_findings(
    decl: Declaration, selectors: dict[str, Selector], output: OutputSpec, source: str, bucket: str, key: str
) -> list[tuple[str, str]]:
    example = f"source {source!r} -> {key!r}"
    problem = key_problem(key)
    if problem:
        return [("key", f"fileid {problem}, for source {source!r}")]
    found: list[tuple[str, str]] = []
    if key == source and bucket == decl.bucket:
        if not output.overwrite_source:
            found.append(("own-source", f"output overwrites its own source ({example}: Cloud Infinite writes "
                                        f"{key!r} itself, as a fileid equal to the object key or '/' + key does, "
                                        "Pic-Operations fileid rule 4); "
                                        "set overwrite_source: true if replacing originals is intended"))
        return found
    if bucket == decl.state.bucket and key.startswith(decl.state.prefix):
        found.append(("ledger", f"output lands under the ledger prefix {decl.state.prefix!r} ({example})"))
    if bucket == decl.bucket:
        for name, selector in selectors.items():
            if selector.matches(key):
                found.append(("pickup", f"outputs would be picked up again as sources by pipeline {name!r} "
                                        f"({example}, which its include globs match): exclude them or write elsewhere"))
                break
    return found
