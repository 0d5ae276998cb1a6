"""The planner (PURE): one declaration + the objects listed + the ledger -> the set's plan.

Values in, a value out: no I/O, no clock, nothing fetched lazily. For every expected output (selected source x
declared output) it decides create / replace (with its reason) / unchanged / conflict; recorded outputs that are
no longer expected become orphaned (delete when pruning); each source's outputs to make are packed into
image_process calls of at most five rules. Unchanged outputs are counted per address, never listed.

Speed and memory matter (10^6 sources x 3 outputs): everything that depends only on an output (template,
fingerprint, bucket) is computed once, the template variables once per source and include base, and the loop
touches only plain dicts and lists.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from reconciler.errors import CollisionError
from reconciler.globs import Selector, base_dir, compile_globs
from reconciler.ledger import by_bucket
from reconciler.model import (
    MAX_RULES_PER_CALL,
    ActionKind,
    Call,
    Declaration,
    Ledger,
    LedgerEntry,
    ObjectInfo,
    Pipeline,
    PlannedAction,
    Reason,
    RuleOp,
    SetPlan,
)
from reconciler.rules import fingerprint as rule_fingerprint
from reconciler.templates import FileidTemplate, key_problem, resolve_fileid, source_variables, template_variables

_SLASHES = re.compile(r"/{2,}")
_MAX_LISTED_PROBLEMS = 20
_EMPTY: Mapping[str, str] = {}
_NO_ENTRIES: Mapping[str, LedgerEntry] = {}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Output:
    """Everything about one declared output that does not depend on the source."""

    index: int
    address: str
    rule: str
    template: str
    absolute: bool
    bucket: str
    fingerprint: str
    overwrite_source: bool
    rule_detail: str  # shown on rule-changed replacements


@dataclass(frozen=True)
class _Pipe:
    """A pipeline's selection and outputs, compiled."""

    selector: Selector
    bases: tuple[tuple[re.Pattern[str], str], ...]  # (include regex, base dir) when bases differ; else ()
    base: str  # the one base dir when every include pattern shares it
    needs_base: bool  # a template uses {rel} or {reldir}
    outputs: tuple[_Output, ...]

    def base_for(self, key: str) -> str:
        if not self.needs_base or not self.bases:
            return self.base
        for regex, base in self.bases:
            if regex.match(key):
                return base
        return ""


def never_under(decl: Declaration) -> str:
    """The key prefix that is never a source: the ledger's, when it lives in the source bucket."""
    return decl.state.prefix if decl.state.bucket == decl.bucket else ""


def output_fingerprint(decl: Declaration, pipeline: Pipeline, index: int) -> str:
    output = pipeline.outputs[index]
    return rule_fingerprint(output.rule, decl.output_bucket(output), output.fileid)


def _compile(decl: Declaration, rule_changes: Mapping[str, tuple[str, str]]) -> tuple[_Pipe, ...]:
    pipes: list[_Pipe] = []
    index = 0
    skip = never_under(decl)
    for pipeline in decl.pipelines:
        outs: list[_Output] = []
        needs_base = False
        for output in pipeline.outputs:
            address = decl.address(pipeline, output)
            bucket = decl.output_bucket(output)
            change = rule_changes.get(address)
            detail = f"{change[0]} -> {change[1]}" if change else "rule, destination bucket or fileid changed"
            outs.append(
                _Output(
                    index=index,
                    address=address,
                    rule=output.rule,
                    template=output.fileid,
                    absolute=FileidTemplate(output.fileid).absolute,
                    bucket=bucket,
                    fingerprint=rule_fingerprint(output.rule, bucket, output.fileid),
                    overwrite_source=output.overwrite_source,
                    rule_detail=detail,
                )
            )
            index += 1
            needs_base = needs_base or bool({"rel", "reldir"} & set(template_variables(output.fileid)))
        include = pipeline.source.include
        distinct = {base_dir(p) for p in include}
        bases: tuple[tuple[re.Pattern[str], str], ...] = ()
        if len(distinct) > 1:
            bases = tuple((compile_globs((p,)), base_dir(p)) for p in include)  # type: ignore[misc]
        pipes.append(
            _Pipe(
                selector=Selector(include, pipeline.source.exclude, skip),
                bases=bases,
                base=next(iter(distinct)) if len(distinct) == 1 else "",
                needs_base=needs_base,
                outputs=tuple(outs),
            )
        )
    return tuple(pipes)


def _render(out: _Output, variables: dict[str, str], source_key: str) -> tuple[str, str]:
    """(fileid as sent, resolved output key) with COS's fileid semantics (``templates``)."""
    fileid = FileidTemplate(out.template).render(variables)
    return fileid, resolve_fileid(source_key, fileid)


def _maker(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for a frozen slots dataclass that sets the slots directly.

    Frozen dataclasses initialise through ``object.__setattr__`` per field, which doubles the cost of building
    millions of actions; the result is the same value (same fields, equality and hash).
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    args = ", ".join(names)
    body = "".join(f"    _set_{n}(o, {n})\n" for n in names)
    namespace: dict[str, Any] = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    namespace.update(_new=object.__new__, _cls=cls)
    exec(f"def build({args}):\n    o = _new(_cls)\n{body}    return o\n", namespace)  # noqa: S102 - fixed text
    build: Callable[..., T] = namespace["build"]
    return build


def expected_outputs(decl: Declaration, sources: Iterable[ObjectInfo]) -> Iterator[tuple[str, str, str]]:
    """(address, bucket, key) of every expected output: what an observer may HEAD instead of listing."""
    pipes = _compile(decl, {})
    for src in sources:
        for pipe in pipes:
            if pipe.selector.matches(src.key):
                variables = source_variables(src.key, pipe.base_for(src.key))
                for out in pipe.outputs:
                    yield out.address, out.bucket, _render(out, variables, src.key)[1]


def build_set_plan(
    decl: Declaration,
    sources: Iterable[ObjectInfo],
    existing: Mapping[str, Mapping[str, str]],
    ledger: Ledger,
    *,
    prune: bool = False,
    replace_unmanaged: bool = False,
    declaration_digest: str = "",
    ledger_generation: str | None = None,
    rule_changes: Mapping[str, tuple[str, str]] | None = None,
) -> SetPlan:
    """Plan one set.

    ``sources``: objects listed in the source bucket (keys that do not match any pipeline are ignored);
    ``existing``: bucket -> {key: etag} of every object observed where outputs (and recorded outputs) may be;
    ``rule_changes``: address -> (old rule, new rule) from ``diffing``, shown on rule-changed replacements.
    Raises ``CollisionError`` when real keys collide or render to unusable keys.
    """
    # The loop allocates millions of small acyclic values; with the cyclic GC running, every young-generation
    # sweep rescans them (planning gets ~2x slower). Pausing it changes no result.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _plan(decl, sources, existing, ledger, prune=prune or decl.prune, replace_unmanaged=replace_unmanaged,
                     declaration_digest=declaration_digest, ledger_generation=ledger_generation,
                     rule_changes=rule_changes or {})
    finally:
        if paused:
            gc.enable()


def _plan(
    decl: Declaration,
    sources: Iterable[ObjectInfo],
    existing: Mapping[str, Mapping[str, str]],
    ledger: Ledger,
    *,
    prune: bool,
    replace_unmanaged: bool,
    declaration_digest: str,
    ledger_generation: str | None,
    rule_changes: Mapping[str, tuple[str, str]],
) -> SetPlan:
    changes = rule_changes
    pipes = _compile(decl, changes)
    n_outputs = sum(len(p.outputs) for p in pipes)
    unchanged_counts = [0] * n_outputs
    actions: list[PlannedAction] = []
    calls: list[Call] = []
    claimed: dict[str, dict[str, str]] = {}  # bucket -> output key -> source key
    selected: set[str] = set()
    problems: list[str] = []
    entries = ledger.entries
    has_ledger = bool(entries)
    recorded_in = by_bucket(entries) if has_ledger else {}  # bucket -> {key: entry}: no tuple per lookup
    matched = 0
    src_bucket = decl.bucket
    create, replace, conflict = ActionKind.CREATE, ActionKind.REPLACE, ActionKind.CONFLICT
    for out_bucket in {o.bucket for p in pipes for o in p.outputs}:
        claimed[out_bucket] = {}
    new_action, new_op, new_call = _maker(PlannedAction), _maker(RuleOp), _maker(Call)
    sub = _SLASHES.sub
    missing, rule_changed, source_changed = Reason.MISSING, Reason.RULE_CHANGED, Reason.SOURCE_CHANGED
    output_changed, unmanaged, replace_unmanaged_reason = Reason.OUTPUT_CHANGED, Reason.UNMANAGED, Reason.REPLACE_UNMANAGED
    plans = [(p.selector.matches, p, tuple((o, claimed[o.bucket], existing.get(o.bucket, _EMPTY),
                                            recorded_in.get(o.bucket, _NO_ENTRIES)) for o in p.outputs))
             for p in pipes]
    for src in sources:
        key = src.key
        ops: list[RuleOp] | None = None
        last_base: str | None = None
        variables: dict[str, str] = {}
        slash = -2
        for matches, pipe, outs in plans:
            if not matches(key):
                continue
            selected.add(key)
            base = pipe.base_for(key)
            if base != last_base:
                variables = source_variables(key, base)
                last_base = base
                slash = key.rfind("/")
            for out, owners, current_objects, recorded in outs:
                # FileidTemplate.render + resolve_fileid, inlined: this loop runs once per expected output
                # (millions); tests/planner/test_fileid_agreement.py keeps it equal to those functions.
                fileid = out.template.format_map(variables)
                if "//" in fileid:
                    fileid = sub("/", fileid)
                if out.absolute:
                    okey = fileid.lstrip("/")
                else:
                    if fileid[:1] == "/":
                        fileid = fileid.lstrip("/")
                    okey = fileid if slash < 0 else key[: slash + 1] + fileid
                if not okey or okey[-1] == "/" or okey[0] == "." or "/." in okey or "//" in okey:
                    problem = key_problem(okey)
                    if problem:
                        problems.append(f"{out.address}: source {key!r} {problem}")
                        continue
                bucket = out.bucket
                owner = owners.get(okey)
                if owner is not None:
                    problems.append(f"{bucket}/{okey}: output of both {owner!r} and {key!r} ({out.address})")
                    continue
                if okey == key and bucket == src_bucket and not out.overwrite_source:
                    problems.append(f"{bucket}/{okey}: {out.address} would overwrite its own source")
                    continue
                current = current_objects.get(okey)
                entry = recorded.get(okey)
                # claim with the ledger's equal key string when there is one: the rendered one can then be freed
                owners[okey if entry is None else entry.key] = key
                if entry is None:
                    if current is None:
                        kind, reason, detail = create, missing, ""
                    elif okey == key and bucket == src_bucket:  # overwrite_source: the source is no conflict
                        kind, reason, detail = create, missing, "overwrites its source"
                    elif replace_unmanaged:
                        kind, reason, detail = replace, replace_unmanaged_reason, ""
                    else:
                        actions.append(new_action(conflict, out.address, bucket, okey, key, unmanaged, ""))
                        continue
                else:
                    matched += 1
                    if current is None:
                        kind, reason, detail = create, missing, "recorded output is gone"
                    elif entry.fingerprint != out.fingerprint:
                        kind, reason, detail = replace, rule_changed, out.rule_detail
                    elif entry.source_etag != src.etag and okey != key:
                        kind, reason, detail = replace, source_changed, ""
                    elif current != entry.output_etag:
                        kind, reason, detail = replace, output_changed, ""
                    else:
                        unchanged_counts[out.index] += 1
                        continue
                actions.append(new_action(kind, out.address, bucket, okey, key, reason, detail))
                op = new_op(out.address, out.rule, fileid, bucket, okey, out.fingerprint)
                if ops is None:
                    ops = [op]
                else:
                    ops.append(op)
        if ops:
            if len(ops) <= MAX_RULES_PER_CALL:
                calls.append(new_call(src_bucket, key, src.etag, tuple(ops)))
            else:
                for i in range(0, len(ops), MAX_RULES_PER_CALL):
                    calls.append(new_call(src_bucket, key, src.etag, tuple(ops[i : i + MAX_RULES_PER_CALL])))

    own = claimed.get(src_bucket)
    if own:
        for key in selected:
            owner = own.get(key)
            if owner is not None and owner != key:
                problems.append(f"{src_bucket}/{key}: output of {owner!r} is itself a source")
    if problems:
        shown = problems[:_MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        raise CollisionError(
            f"set {decl.name!r}: output keys collide or are unusable; no plan is shown:\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )

    if has_ledger and matched != len(entries):
        actions.extend(_orphans(decl, pipes, ledger, claimed, existing, selected, prune))

    unchanged = {o.address: unchanged_counts[o.index] for p in pipes for o in p.outputs}
    return SetPlan(
        name=decl.name,
        declaration_digest=declaration_digest,
        ledger_generation=ledger.generation if ledger_generation is None else ledger_generation,
        actions=tuple(actions),
        calls=tuple(calls),
        unchanged=unchanged,
        rule_changes=dict(changes),
        prune=prune,
    )


def _orphans(
    decl: Declaration,
    pipes: tuple[_Pipe, ...],
    ledger: Ledger,
    claimed: Mapping[str, Mapping[str, str]],
    existing: Mapping[str, Mapping[str, str]],
    selected: set[str],
    prune: bool,
) -> list[PlannedAction]:
    """Recorded outputs that no expected output claims: orphaned, or delete when pruning."""
    selectors = {o.address: p.selector for p in pipes for o in p.outputs}
    result: list[PlannedAction] = []
    for (bucket, key), entry in ledger.entries.items():
        if key in claimed.get(bucket, _EMPTY):
            continue
        selector = selectors.get(entry.address)
        still_selected = selector is not None and selector.matches(entry.source_key)
        gone_source = still_selected and entry.source_key not in selected
        reason = Reason.SOURCE_DELETED if gone_source else Reason.NOT_DECLARED
        current = existing.get(bucket, _EMPTY).get(key)
        if current is None:
            result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key,
                                        Reason.OUTPUT_GONE))
        elif not prune:
            result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key, reason))
        elif current != entry.output_etag:
            result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key, reason,
                                        "changed outside cosrecon since it was made; not deleted"))
        else:
            result.append(PlannedAction(ActionKind.DELETE, entry.address, bucket, key, entry.source_key, reason))
    result.sort(key=lambda a: (a.address, a.bucket, a.key))
    return result
