"""The planner (PURE): one declaration + the objects listed + the ledger -> the set's plan.

Values in, a value out: no I/O, no clock, nothing fetched lazily. For every expected output (selected source x
declared output) it decides create / replace (with its reason) / unchanged / conflict; recorded outputs that are
no longer expected become orphaned (``orphans``; delete when pruning); each source's outputs to make are packed
into image_process calls of at most five rules. Unchanged outputs are counted per address, never listed.

Speed and memory matter (10^6 sources x 3 outputs): what depends only on an output is compiled once
(``compiled``), the template variables are made once per source and include base, the ledger is looked up as
``LedgerIndex`` groups, and an output to make is held as a (target, key) pair of its call.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Mapping

from reconciler.plan.compiled import compile_pipelines, expected_outputs, never_under
from reconciler.errors import CollisionError
from reconciler.state.index import BASE, KEYS, LAYOUT, SOURCE, Group, LedgerIndex, same_etag
from reconciler.model import (
    MAX_RULES_PER_CALL,
    ActionKind,
    Call,
    Declaration,
    Ledger,
    ObjectInfo,
    PlanActions,
    PlannedAction,
    Reason,
    SetPlan,
    Target,
)
from reconciler.plan.orphans import orphans
from reconciler.declare.templates import key_problem, source_variables

__all__ = ["build_set_plan", "expected_outputs", "never_under"]

_SLASHES = re.compile(r"/{2,}")
_MAX_LISTED_PROBLEMS = 20
_EMPTY: Mapping[str, str] = {}
_NO_GROUPS: Mapping[str, Group] = {}


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
    styles: Mapping[str, str] | None = None,
) -> SetPlan:
    """Plan one set.

    ``sources``: objects listed in the source bucket (keys that do not match any pipeline are ignored);
    ``existing``: bucket -> {key: etag} of every object observed where outputs (and recorded outputs) may be;
    ``confirmed``: a byte per entry of ``ledger.entries`` (a ``LedgerIndex``), non-zero for a recorded output that
    was observed with its recorded ETag and so is not in ``existing`` (``observe`` keeps those out of it);
    ``rule_changes``: address -> (old rule, new rule) from ``diffing``, shown on rule-changed replacements;
    ``styles``: the source bucket's image styles, fingerprinted with the ``style/<name>`` rules that use them.
    Raises ``CollisionError`` when real keys collide or render to unusable keys.
    """
    # The loop allocates millions of small acyclic values; with the cyclic GC running, every young-generation
    # sweep rescans them (planning gets ~2x slower). Pausing it changes no result.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _plan(decl, sources, existing, ledger, prune=prune or decl.prune, replace_unmanaged=replace_unmanaged,
                     declaration_digest=declaration_digest, ledger_generation=ledger_generation,
                     rule_changes=rule_changes or {}, confirmed=confirmed, styles=styles or {})
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
    styles: Mapping[str, str],
) -> SetPlan:
    changes = rule_changes
    pipes = compile_pipelines(decl, changes, styles)
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
                    okey = fileid if slash < 0 or fileid == key else key[: slash + 1] + fileid  # rule 4
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
        others += orphans(decl, pipes, index, claims, confirmed, existing, set(selected), prune)

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
