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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from reconciler.errors import CollisionError
from reconciler.globs import Selector, base_dir, compile_globs
from reconciler.ledger_index import BASE, KEYS, LAYOUT, SOURCE, Group, LedgerIndex, same_etag
from reconciler.model import (
    MAX_RULES_PER_CALL,
    ActionKind,
    Call,
    Declaration,
    Ledger,
    ObjectInfo,
    Pipeline,
    PlanActions,
    PlannedAction,
    Reason,
    SetPlan,
    Target,
)
from reconciler.rules import fingerprint as rule_fingerprint
from reconciler.templates import FileidTemplate, key_problem, resolve_fileid, source_variables, template_variables

_SLASHES = re.compile(r"/{2,}")
_MAX_LISTED_PROBLEMS = 20
_EMPTY: Mapping[str, str] = {}
_NO_GROUPS: Mapping[str, Group] = {}


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
    # what a call's rule makes, by why it is made (shared by every call making this output for that reason)
    create: Target
    create_gone: Target  # recorded, but the object is gone
    create_over_source: Target  # overwrite_source: the source is no conflict
    replace_unmanaged: Target
    rule_changed: Target
    source_changed: Target
    output_changed: Target


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
            absolute = FileidTemplate(output.fileid).absolute
            fingerprint = rule_fingerprint(output.rule, bucket, output.fileid)

            def target(action: ActionKind, reason: Reason, why: str = "") -> Target:
                return Target(address, output.rule, bucket, fingerprint, absolute, action, reason, why)

            create, replace = ActionKind.CREATE, ActionKind.REPLACE
            outs.append(
                _Output(
                    index=index,
                    address=address,
                    rule=output.rule,
                    template=output.fileid,
                    absolute=absolute,
                    bucket=bucket,
                    fingerprint=fingerprint,
                    overwrite_source=output.overwrite_source,
                    rule_detail=detail,
                    create=target(create, Reason.MISSING),
                    create_gone=target(create, Reason.MISSING, "recorded output is gone"),
                    create_over_source=target(create, Reason.MISSING, "overwrites its source"),
                    replace_unmanaged=target(replace, Reason.REPLACE_UNMANAGED),
                    rule_changed=target(replace, Reason.RULE_CHANGED, detail),
                    source_changed=target(replace, Reason.SOURCE_CHANGED),
                    output_changed=target(replace, Reason.OUTPUT_CHANGED),
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
    confirmed: bytes | bytearray | None = None,
) -> SetPlan:
    """Plan one set.

    ``sources``: objects listed in the source bucket (keys that do not match any pipeline are ignored);
    ``existing``: bucket -> {key: etag} of every object observed where outputs (and recorded outputs) may be;
    ``confirmed``: a byte per entry of ``ledger.entries`` (a ``LedgerIndex``), non-zero for a recorded output that
    was observed with its recorded ETag and so is not in ``existing`` (``observe`` keeps those out of it);
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
                     rule_changes=rule_changes or {}, confirmed=confirmed)
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
    confirmed: bytes | bytearray | None,
) -> SetPlan:
    changes = rule_changes
    pipes = _compile(decl, changes)
    n_outputs = sum(len(p.outputs) for p in pipes)
    unchanged_counts = [0] * n_outputs
    conflicts: list[PlannedAction] = []
    calls: list[Call] = []
    # claims: output key -> the source whose output it is. A recorded output claimed by its own source is marked in
    # ``claims`` (a byte per ledger entry) instead: converged, that is every output, and no dict entry is made.
    claimed: dict[str, dict[str, str]] = {}
    selected: list[str] = []
    problems: list[str] = []
    index = LedgerIndex.of(ledger.entries) if ledger.entries else LedgerIndex()
    claims = bytearray(index.size)
    if confirmed is None or not index.size:
        confirmed = bytes(index.size)
    elif len(confirmed) != index.size:
        raise ValueError(f"confirmed holds {len(confirmed)} entries, the ledger {index.size}")
    ledger_buckets = [o[0] for o in index.outputs]
    ledger_fingerprints = [o[2] for o in index.outputs]
    matched = 0
    src_bucket = decl.bucket
    for out_bucket in {o.bucket for p in pipes for o in p.outputs}:
        claimed[out_bucket] = {}
    new_call = Call.of
    sub = _SLASHES.sub
    conflict, unmanaged = ActionKind.CONFLICT, Reason.UNMANAGED
    plans = [(p.selector.matches, p, tuple((o, claimed[o.bucket], existing.get(o.bucket, _EMPTY),
                                            index.by_key.get(o.bucket, _NO_GROUPS)) for o in p.outputs))
             for p in pipes]
    for src in sources:
        key, src_etag = src.key, src.etag
        ops: list[Target | str] | None = None
        last_base: str | None = None
        variables: dict[str, str] = {}
        slash = -2
        seen_group: Group | None = None
        same_source = False
        for matches, pipe, outs in plans:
            if not matches(key):
                continue
            if last_base is None:
                selected.append(key)
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
                group = recorded.get(okey)
                j = -1
                if group is not None:
                    j = group.index(okey, KEYS) - KEYS
                    if ledger_buckets[group[LAYOUT][2 * j]] != bucket:
                        j = index.locate(group, bucket, okey)
                    okey = group[KEYS + j]  # the ledger's equal string: the rendered one is freed
                owner = owners.get(okey)
                if owner is None and j >= 0 and claims[group[BASE] + j]:  # type: ignore[index]
                    owner = group[SOURCE]  # type: ignore[index]
                if owner is not None:
                    problems.append(f"{bucket}/{okey}: output of both {owner!r} and {key!r} ({out.address})")
                    continue
                if okey == key and bucket == src_bucket and not out.overwrite_source:
                    problems.append(f"{bucket}/{okey}: {out.address} would overwrite its own source")
                    continue
                current = current_objects.get(okey)
                if j < 0:
                    owners[okey] = key
                    if current is None:
                        target = out.create
                    elif okey == key and bucket == src_bucket:  # overwrite_source: the source is no conflict
                        target = out.create_over_source
                    elif replace_unmanaged:
                        target = out.replace_unmanaged
                    else:
                        conflicts.append(PlannedAction(conflict, out.address, bucket, okey, key, unmanaged))
                        continue
                else:
                    entry_id = group[BASE] + j  # type: ignore[index]
                    claims[entry_id] = 1
                    if group[SOURCE] != key:  # type: ignore[index]
                        owners[okey] = key
                    matched += 1
                    if group is not seen_group:
                        seen_group, same_source = group, same_etag(group, -1, src_etag)  # type: ignore[arg-type]
                    if current is None and not confirmed[entry_id]:
                        target = out.create_gone
                    elif ledger_fingerprints[group[LAYOUT][2 * j]] != out.fingerprint:  # type: ignore[index]
                        target = out.rule_changed
                    elif not same_source and okey != key:
                        target = out.source_changed
                    elif current is not None and not same_etag(group, j, current):  # type: ignore[arg-type]
                        target = out.output_changed
                    else:
                        unchanged_counts[out.index] += 1
                        continue
                if ops is None:
                    ops = [target, okey]
                else:
                    ops += (target, okey)
        if ops:
            if len(ops) <= 2 * MAX_RULES_PER_CALL:
                calls.append(new_call(src_bucket, key, src_etag, tuple(ops)))
            else:
                step = 2 * MAX_RULES_PER_CALL
                for i in range(0, len(ops), step):
                    calls.append(new_call(src_bucket, key, src_etag, tuple(ops[i : i + step])))

    if src_bucket in claimed:
        problems += _sources_claimed(src_bucket, selected, claimed[src_bucket], index, claims)
    if problems:
        shown = problems[:_MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        raise CollisionError(
            f"set {decl.name!r}: output keys collide or are unusable; no plan is shown:\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )

    others: list[PlannedAction] = conflicts
    if matched != index.size:
        others += _orphans(decl, pipes, index, claims, confirmed, existing, set(selected), prune)

    unchanged = {o.address: unchanged_counts[o.index] for p in pipes for o in p.outputs}
    final_calls = tuple(calls)
    return SetPlan(
        name=decl.name,
        declaration_digest=declaration_digest,
        ledger_generation=ledger.generation if ledger_generation is None else ledger_generation,
        actions=PlanActions(final_calls, others),
        calls=final_calls,
        unchanged=unchanged,
        rule_changes=dict(changes),
        prune=prune,
    )


def _sources_claimed(bucket: str, selected: list[str], owners: Mapping[str, str], index: LedgerIndex,
                     claims: bytearray) -> list[str]:
    """Problems for sources that are another source's output (``bucket`` is the sources' bucket)."""
    problems = []
    recorded = index.by_key.get(bucket, _NO_GROUPS)
    for key in selected:
        owner = owners.get(key)
        if owner is None and recorded:
            group = recorded.get(key)
            if group is not None:
                j = index.locate(group, bucket, key)
                if claims[group[BASE] + j] and group[SOURCE] != key:
                    owner = group[SOURCE]
        if owner is not None and owner != key:
            problems.append(f"{bucket}/{key}: output of {owner!r} is itself a source")
    return problems


def _orphans(
    decl: Declaration,
    pipes: tuple[_Pipe, ...],
    index: LedgerIndex,
    claims: bytearray,
    confirmed: bytes | bytearray,
    existing: Mapping[str, Mapping[str, str]],
    selected: set[str],
    prune: bool,
) -> list[PlannedAction]:
    """Recorded outputs that no expected output claims: orphaned, or delete when pruning."""
    selectors = {o.address: p.selector for p in pipes for o in p.outputs}
    result: list[PlannedAction] = []
    for group in index.groups():
        for j in range(len(group) - KEYS):
            entry_id = group[BASE] + j
            if claims[entry_id]:
                continue
            entry = index.entry(group, j)
            bucket, key = entry.bucket, entry.key
            selector = selectors.get(entry.address)
            still_selected = selector is not None and selector.matches(entry.source_key)
            gone_source = still_selected and entry.source_key not in selected
            reason = Reason.SOURCE_DELETED if gone_source else Reason.NOT_DECLARED
            current = existing.get(bucket, _EMPTY).get(key)
            if current is None and confirmed[entry_id]:
                current = entry.output_etag
            if current is None:
                result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key,
                                            Reason.OUTPUT_GONE))
            elif not prune:
                result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key,
                                            reason))
            elif current != entry.output_etag:
                result.append(PlannedAction(ActionKind.ORPHANED, entry.address, bucket, key, entry.source_key, reason,
                                            "changed outside cosrecon since it was made; not deleted"))
            else:
                result.append(PlannedAction(ActionKind.DELETE, entry.address, bucket, key, entry.source_key, reason))
    result.sort(key=lambda a: (a.address, a.bucket, a.key))
    return result
