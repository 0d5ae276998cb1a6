"""The plan of one set computed by the columnar engine (``query``): the same ``SetPlan`` as ``planner``'s.

``build_set_plan_columnar`` takes what ``planner.build_set_plan`` takes, loads it as tables (sources, what was
observed, the ledger's entries), runs the named queries of ``query.planning`` and makes the plan's values from
their results: the calls' targets are the compiled outputs' (``compiled``), shared by every call with the same
rules. Where the queries find keys that collide or cannot be used, or a glob has no RE2 translation, the set is
planned by ``planner.build_set_plan``, which says which keys (its messages are the reference) or plans it.
A differential property test (tests/query/test_differential.py) holds the two to identical plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model import (MAX_RULES_PER_CALL, ActionKind, Call, Declaration, Ledger, ObjectInfo, PlanActions, PlannedAction,
                              Reason, SetPlan, SourceList, Target)
from reconciler.plan.compiled import CompiledOutput, CompiledPipeline, compile_pipelines, never_under
from reconciler.declare.authority import authority
from reconciler.plan.orphans import UNDECLARED
from reconciler.plan.planner import build_set_plan
from reconciler.query import planning as q
from reconciler.query.compiled import OutputSpecSql, PipelineSql, translatable
from reconciler.query.engine import Column, Engine
from reconciler.state.index import KEYS, LAYOUT, SOURCE, EntryFlags, LedgerIndex, etag_at

_ORPHAN = {q.ORPHAN_GONE: ActionKind.ORPHANED, q.ORPHAN_KEPT: ActionKind.ORPHANED,
           q.ORPHAN_CHANGED: ActionKind.ORPHANED, q.ORPHAN_DELETE: ActionKind.DELETE,
           q.ORPHAN_UNDECLARED: ActionKind.ORPHANED}
_DETAIL = {q.ORPHAN_CHANGED: "changed outside cosrecon since it was made; not deleted", q.ORPHAN_UNDECLARED: UNDECLARED}


def pipelines_sql(decl: Declaration, pipes: tuple[CompiledPipeline, ...]) -> tuple[PipelineSql, ...]:
    """``decl``'s pipelines as the queries need them (compiled once per declaration)."""
    skip = never_under(decl)
    return tuple(PipelineSql(p.source.include, p.source.exclude, skip,
                             tuple(OutputSpecSql(o.index, o.address, o.bucket, o.template, o.fingerprint,
                                                 o.overwrite_source) for o in c.outputs))
                 for p, c in zip(decl.pipelines, pipes))


def definitions_sql(decl: Declaration) -> tuple[PipelineSql, ...]:
    """Every output definition the set answers for (``declare.authority``: declared, then retired), one output
    each, without the ledger prefix rule (an entry's source is matched by the definition's globs alone)."""
    return tuple(PipelineSql(d.include, d.exclude, "", (OutputSpecSql(0, d.address, d.bucket, d.fileid, "", False),))
                 for d in authority(decl))


def _target(out: CompiledOutput, cls: int) -> Target:
    return (out.create, out.create, out.create_gone, out.create_over_source, out.replace_unmanaged,
            out.rule_changed, out.source_changed, out.output_changed)[cls]


def load_inputs(engine: Engine, sources: Iterable[ObjectInfo], existing: Mapping[str, Mapping[str, str]],
                index: LedgerIndex, confirmed: EntryFlags, outputs: Iterable[CompiledOutput]
                ) -> tuple[list[str], list[str]]:
    """The tables ``query.planning`` reads, from the planner's inputs; the sources' keys and ETags, by ``ord``."""
    if isinstance(sources, SourceList):
        keys, etags = list(sources.keys), [sources.etags[k] for k in sources.keys]
    else:
        listed = list(sources)
        keys, etags = [s.key for s in listed], [s.etag for s in listed]
    engine.load("sources", {"ord": ("int", range(len(keys))), "key": ("str", keys), "etag": ("str", etags)})
    buckets: list[str] = []
    okeys: list[str] = []
    oetags: list[str] = []
    for bucket, objects in existing.items():
        buckets += [bucket] * len(objects)
        okeys += objects.keys()
        oetags += objects.values()
    engine.load("observed", {"bucket": ("str", buckets), "key": ("str", okeys), "etag": ("str", oetags)})
    outs = list(outputs)
    engine.load("outputs", {"out": ("int", [o.index for o in outs]), "address": ("str", [o.address for o in outs]),
                            "bucket": ("str", [o.bucket for o in outs]),
                            "fingerprint": ("str", [o.fingerprint for o in outs]),
                            "overwrite_source": ("flag", bytes(o.overwrite_source for o in outs))})
    engine.load("ledger_outputs", {"lout": ("int", range(len(index.outputs))),
                                   "bucket": ("str", [o[0] for o in index.outputs]),
                                   "address": ("str", [o[1] for o in index.outputs]),
                                   "fingerprint": ("str", [o[2] for o in index.outputs])})
    engine.load("ledger", _ledger_columns(index, confirmed))
    return keys, etags


def _ledger_columns(index: LedgerIndex, confirmed: EntryFlags) -> dict[str, Column]:
    """The ledger's entries as columns, numbered as ``EntryFlags`` number them."""
    louts: list[int] = []
    keys: list[str] = []
    sources: list[str] = []
    source_etags: list[str] = []
    output_etags: list[str] = []
    for group in index.groups():
        n = len(group) - KEYS
        louts += group[LAYOUT][::2]
        keys += group[KEYS:]
        sources += [group[SOURCE]] * n
        etags = [etag_at(group, j) for j in range(-1, n)]
        source_etags += [etags[0]] * n
        output_etags += etags[1:]
    return {"entry": ("int", range(len(keys))), "lout": ("int", louts), "key": ("str", keys),
            "source_key": ("str", sources), "source_etag": ("str", source_etags),
            "output_etag": ("str", output_etags), "confirmed": ("flag", confirmed)}


def build_set_plan_columnar(
    decl: Declaration,
    sources: Iterable[ObjectInfo],
    existing: Mapping[str, Mapping[str, str]],
    ledger: Ledger,
    **options: Any,
) -> SetPlan:
    """The plan ``planner.build_set_plan`` makes of the same inputs and options (see there), computed by queries
    (``columnar_plan``); the reference planner's when the queries find keys that collide or cannot be used (it
    raises ``CollisionError`` naming them) or a glob has no RE2 translation."""
    plan = columnar_plan(decl, sources, existing, ledger, **options)
    if plan is None:
        options.pop("engine", None)
        return build_set_plan(decl, sources, existing, ledger, **options)
    return plan


def columnar_plan(
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
    confirmed: EntryFlags | None = None,
    styles: Mapping[str, str] | None = None,
    engine: Engine | None = None,
) -> SetPlan | None:
    """The plan of ``decl`` by queries on ``engine`` (a new one, closed afterwards, when not given); None when
    a glob has no RE2 translation or some expected output keys collide or cannot be used."""
    changes = dict(rule_changes or {})
    pipes = compile_pipelines(decl, changes, styles or {})
    sql = pipelines_sql(decl, pipes)
    definitions = definitions_sql(decl)
    index = LedgerIndex.of(ledger.entries) if ledger.entries else LedgerIndex()
    if confirmed is None or not index.size:
        confirmed = EntryFlags(index.size)
    elif len(confirmed) != index.size:
        raise ValueError(f"confirmed holds {len(confirmed)} entries, the ledger {index.size}")
    if not translatable(sql + definitions):
        return None
    own = engine is None
    engine = engine or Engine()
    try:
        outputs = [o for p in pipes for o in p.outputs]
        keys, etags = load_inputs(engine, sources, existing, index, confirmed, outputs)
        q.expected_outputs(engine, sql)
        if q.count_problems(engine, decl.bucket):
            return None
        q.classify(engine, decl.bucket, replace_unmanaged)
        prune = prune or decl.prune
        calls = _calls(decl.bucket, keys, etags, q.packed_calls(engine, len(outputs)), outputs)
        others = [PlannedAction(ActionKind.CONFLICT, outputs[out].address, outputs[out].bucket, okey, key,
                                Reason.UNMANAGED) for out, okey, key in q.conflicts(engine)]
        others += _orphans(q.orphans(engine, sql, definitions, prune))
        unchanged = q.unchanged_counts(engine)
    finally:
        if own:
            engine.close()
    return SetPlan(
        name=decl.name,
        declaration_digest=declaration_digest,
        ledger_generation=ledger.generation if ledger_generation is None else ledger_generation,
        actions=PlanActions(calls, others),
        calls=calls,
        unchanged={o.address: unchanged.get(o.index, 0) for o in outputs},
        rule_changes=changes,
        prune=prune,
    )


def _calls(bucket: str, keys: list[str], etags: list[str], columns: Mapping[str, list[Any]],
           outputs: list[CompiledOutput]) -> tuple[Call, ...]:
    """The calls of ``packed_calls``'s columns: a source's rules cut every ``MAX_RULES_PER_CALL``; calls with the
    same rules share one tuple of targets; source keys and ETags are the listing's own strings."""
    shared: dict[tuple[int | None, ...], tuple[tuple[Target, ...], tuple[int, ...] | None]] = {}
    calls = []
    kinds = zip(*(columns[f"c{i}"] for i in range(len(outputs))))
    okeys = zip(*(columns[f"k{i}"] for i in range(len(outputs))))
    for ord_, kind, made in zip(columns["ord"], kinds, okeys):
        found = shared.get(kind)
        if found is None:
            present = tuple(i for i, c in enumerate(kind) if c is not None)
            found = shared[kind] = (tuple(_target(outputs[i], kind[i]) for i in present),
                                    None if len(present) == len(kind) else present)
        targets, where = found
        if where is not None:
            made = tuple(made[i] for i in where)
        key, etag = keys[ord_], etags[ord_]
        if len(made) <= MAX_RULES_PER_CALL:
            calls.append(Call(bucket, key, etag, targets, made))
            continue
        for i in range(0, len(made), MAX_RULES_PER_CALL):
            end = i + MAX_RULES_PER_CALL
            calls.append(Call(bucket, key, etag, targets[i:end], made[i:end]))
    return tuple(calls)


def _orphans(rows: list[tuple[Any, ...]]) -> list[PlannedAction]:
    found = []
    for kind, gone_source, address, bucket, key, source_key in rows:
        reason = Reason.SOURCE_DELETED if gone_source else Reason.NOT_DECLARED
        if kind == q.ORPHAN_GONE:
            reason = Reason.OUTPUT_GONE
        found.append(PlannedAction(_ORPHAN[kind], address, bucket, key, source_key, reason,
                                   _DETAIL.get(kind, "")))
    return found
