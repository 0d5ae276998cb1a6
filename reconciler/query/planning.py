"""The plan as named queries (each a pure function of its input tables; results as new temp tables or columns).

Input tables (``engine.Engine.load``):

- ``sources(ord, key, etag)``: the objects listed in the source bucket, ``ord`` their listing order;
- ``observed(bucket, key, etag)``: what stands where outputs may be (the source bucket's objects included);
- ``outputs(out, address, bucket, fingerprint, overwrite_source)``: the declared outputs, in declaration order;
- ``ledger(entry, lout, key, source_key, source_etag, output_etag, confirmed)`` and
  ``ledger_outputs(lout, bucket, address, fingerprint)``: the recorded outputs; ``confirmed``: a listing showed
  the output with its recorded ETag (``observed`` then need not hold it).

The queries, in the order a plan runs them: ``expected_outputs`` (sources x outputs through the globs and the
fileid templates), ``count_problems`` (keys that collide or cannot be used: the caller then reports them),
``classify`` (each expected output against the ledger and what stands), then ``unchanged_counts``,
``conflicts``, ``packed_calls`` (at most five rules per call, fewest calls: a source's rules in declaration
order, cut every five) and ``orphans`` (recorded outputs no expected output claims).
"""

from __future__ import annotations

from typing import Any

from reconciler.query import keys
from reconciler.query.compiled import PipelineSql
from reconciler.query.engine import Engine

# what ``classify`` says of an expected output
UNCHANGED, CREATE, CREATE_GONE, CREATE_OVER_SOURCE, REPLACE_UNMANAGED, RULE_CHANGED, SOURCE_CHANGED, \
    OUTPUT_CHANGED, CONFLICT = range(9)
# what ``orphans`` says of an unclaimed entry
ORPHAN_GONE, ORPHAN_KEPT, ORPHAN_CHANGED, ORPHAN_DELETE, ORPHAN_UNDECLARED = range(5)


def _rendered(name: str, relation: str, pipe: PipelineSql) -> str:
    """CTEs ``{name}_sel`` .. ``{name}_v``: the rows of ``relation`` (with a ``key`` column) that ``pipe``
    selects, with the template variables of their keys (``keys.COLUMNS``)."""
    base = pipe.base() if pipe.needs_base() else "''"
    steps = [", ".join(f"{sql} AS {column}" for column, sql in variables.items())
             for variables in (keys.first_variables("base"), keys.second_variables(), keys.third_variables())]
    return (f"{name}_sel AS (SELECT *, {base} AS base FROM {relation} WHERE {pipe.selects('key')}), "
            f"{name}_a AS (SELECT *, {steps[0]} FROM {name}_sel), {name}_b AS (SELECT *, {steps[1]} FROM {name}_a), "
            f"{name}_v AS (SELECT *, {steps[2]} FROM {name}_b)")


def _keyed(name: str, template: str, columns: str) -> str:
    """SELECT of ``columns`` and ``okey`` (the output key ``template`` names) from ``{name}_v``."""
    return (f"SELECT {columns}, {keys.output_key(template)} AS okey FROM (SELECT *, {keys.fileid(template)} AS fid "
            f"FROM (SELECT *, {keys.raw_fileid(template)} AS fid_raw FROM {name}_v))")


def _pipeline_outputs(number: int, pipe: PipelineSql) -> tuple[str, str]:
    """SQL of (ord, key, etag, out, bucket, okey) for every output of one pipeline's selected sources."""
    name = f"p{number}"
    selects = [_keyed(name, o.template, f"ord, key, etag, {o.index} AS out, {keys.literal(o.bucket)} AS bucket")
               for o in pipe.outputs]
    return _rendered(name, "sources", pipe), " UNION ALL ".join(selects)


def expected_outputs(engine: Engine, pipelines: tuple[PipelineSql, ...]) -> None:
    """``expected(ord, key, etag, out, bucket, okey)``: every selected source x each output of its pipelines,
    with the output key its fileid names; ``selected(key)``: the sources some pipeline selects."""
    ctes, bodies = [], []
    for number, pipe in enumerate(pipelines):
        cte, body = _pipeline_outputs(number, pipe)
        ctes.append(cte)
        if body:
            bodies.append(body)
    union = " UNION ALL ".join(bodies) if bodies else \
        "SELECT NULL::BIGINT AS ord, NULL AS key, NULL AS etag, NULL::BIGINT AS out, NULL AS bucket, NULL AS okey " \
        "WHERE false"
    engine.run(f"CREATE OR REPLACE TEMP TABLE expected AS WITH {', '.join(ctes)} {union}")
    chosen = " OR ".join(p.selects("key") for p in pipelines) or "false"
    engine.run(f"CREATE OR REPLACE TEMP TABLE selected AS SELECT key FROM sources WHERE {chosen}")


def count_problems(engine: Engine, source_bucket: str) -> int:
    """How many expected outputs cannot be planned: an unusable key (empty, ending in "/", an empty, "." or ".."
    segment), a key two expected outputs share, a key that is its own source's without ``overwrite_source``, a
    selected source that is another source's output."""
    src = keys.literal(source_bucket)
    value = engine.value(f"""
        SELECT (SELECT count(*) FROM expected WHERE okey = '' OR ends_with(okey, '/') OR starts_with(okey, '/')
                    OR contains(okey, '//') OR ((starts_with(okey, '.') OR contains(okey, '/.'))
                                                AND regexp_matches(okey, '(?s)(^|/)\\.\\.?(/|$)')))
             + (SELECT count(*) FROM (SELECT 1 FROM expected GROUP BY bucket, okey HAVING count(*) > 1))
             + (SELECT count(*) FROM expected e JOIN outputs o USING (out)
                    WHERE e.bucket = {src} AND e.okey = e.key AND NOT o.overwrite_source)
             + (SELECT count(*) FROM expected e JOIN selected s ON e.okey = s.key
                    WHERE e.bucket = {src} AND e.key <> s.key)""")
    return int(value or 0)


def classify(engine: Engine, source_bucket: str, replace_unmanaged: bool) -> None:
    """``classified(ord, key, etag, out, okey, entry, cls)``: what to do about each expected output (the
    constants above), ``entry`` the ledger entry it claims (NULL: none)."""
    src = keys.literal(source_bucket)
    engine.run(f"""
        CREATE OR REPLACE TEMP TABLE classified AS
        SELECT e.ord, e.key, e.etag, e.out, e.okey, l.entry,
            CASE WHEN l.entry IS NULL THEN
                CASE WHEN x.etag IS NULL THEN {CREATE}
                     WHEN e.bucket = {src} AND e.okey = e.key THEN {CREATE_OVER_SOURCE}
                     WHEN {'true' if replace_unmanaged else 'false'} THEN {REPLACE_UNMANAGED}
                     ELSE {CONFLICT} END
            ELSE
                CASE WHEN x.etag IS NULL AND NOT l.confirmed THEN {CREATE_GONE}
                     WHEN l.fingerprint <> o.fingerprint THEN {RULE_CHANGED}
                     WHEN l.source_etag <> e.etag AND e.okey <> e.key THEN {SOURCE_CHANGED}
                     WHEN x.etag IS NOT NULL AND x.etag <> l.output_etag THEN {OUTPUT_CHANGED}
                     ELSE {UNCHANGED} END
            END AS cls
        FROM expected e
        JOIN outputs o USING (out)
        LEFT JOIN (SELECT l.*, lo.bucket, lo.fingerprint FROM ledger l JOIN ledger_outputs lo USING (lout)) l
            ON l.bucket = e.bucket AND l.key = e.okey
        LEFT JOIN observed x ON x.bucket = e.bucket AND x.key = e.okey""")


def unchanged_counts(engine: Engine) -> dict[int, int]:
    """Declared output number -> how many of its expected outputs stand as recorded."""
    return {int(out): int(n) for out, n in
            engine.rows(f"SELECT out, count(*) FROM classified WHERE cls = {UNCHANGED} GROUP BY out")}


def conflicts(engine: Engine) -> list[tuple[Any, ...]]:
    """(out, output key, source key) of each unrecorded object standing at an output key, in source order."""
    return engine.rows(f"SELECT out, okey, key FROM classified WHERE cls = {CONFLICT} ORDER BY ord, out")


def packed_calls(engine: Engine, outputs: int) -> dict[str, list[Any]]:
    """Each source with outputs to make, in source order: ``ord`` (the source's), and per declared output ``i``
    (of ``outputs``) ``c{i}`` (what its rule makes and why: ``classify``'s constant; NULL when nothing) and
    ``k{i}`` (its output key). The caller cuts a source's rules, in declaration order, into calls of at most five
    (fewest calls). One column per output, not a list per source: lists cost ~6x as much to bring out."""
    wide = ", ".join(f"max(cls) FILTER (WHERE out = {i}) AS c{i}, max(okey) FILTER (WHERE out = {i}) AS k{i}"
                     for i in range(outputs))
    return engine.columns(f"""
        SELECT ord, {wide} FROM classified WHERE cls NOT IN ({UNCHANGED}, {CONFLICT})
        GROUP BY ord ORDER BY ord""")


def orphans(engine: Engine, pipelines: tuple[PipelineSql, ...], definitions: tuple[PipelineSql, ...],
            prune: bool) -> list[tuple[Any, ...]]:
    """(kind, source deleted, address, bucket, key, source key) of each recorded output no expected output
    claims, by address, bucket and key: gone (nothing stands there), undeclared (no output definition of
    ``definitions`` -- declared or retired, one output each -- makes it: never deleted), kept (not pruning),
    changed (it stands with another ETag than recorded: never deleted) or delete. ``source deleted``: its source
    is still selected by the pipeline of its address but no longer listed."""
    cases = " ".join(f"WHEN {keys.literal(o.address)} THEN {p.selects('source_key')}"
                     for p in pipelines for o in p.outputs)
    still_selected = f"CASE address {cases} ELSE false END" if cases else "false"
    engine.run("""
        CREATE OR REPLACE TEMP TABLE unclaimed AS
        SELECT l.entry, lo.address, lo.bucket, l.key AS lkey, l.source_key, l.source_key AS key, l.output_etag,
               coalesce(x.etag, CASE WHEN l.confirmed THEN l.output_etag END) AS current
        FROM ledger l JOIN ledger_outputs lo USING (lout)
        LEFT JOIN observed x ON x.bucket = lo.bucket AND x.key = l.key
        WHERE NOT EXISTS (SELECT 1 FROM classified c WHERE c.entry = l.entry)""")
    permitted = []
    for number, d in enumerate(definitions):
        o = d.outputs[0]
        relation = f"(SELECT * FROM unclaimed WHERE address = {keys.literal(o.address)} " \
                   f"AND bucket = {keys.literal(o.bucket)})"
        permitted.append(f"(WITH {_rendered(f'd{number}', relation, d)} "
                         f"SELECT entry FROM ({_keyed(f'd{number}', o.template, 'entry, lkey')}) WHERE okey = lkey)")
    allowed = " UNION ALL ".join(permitted) or "SELECT NULL::BIGINT AS entry WHERE false"
    return engine.rows(f"""
        SELECT CASE WHEN current IS NULL THEN {ORPHAN_GONE}
                    WHEN entry NOT IN (SELECT entry FROM ({allowed})) THEN {ORPHAN_UNDECLARED}
                    WHEN NOT {'true' if prune else 'false'} THEN {ORPHAN_KEPT}
                    WHEN current <> output_etag THEN {ORPHAN_CHANGED}
                    ELSE {ORPHAN_DELETE} END AS kind,
               ({still_selected}) AND source_key NOT IN (SELECT key FROM selected) AS gone_source,
               address, bucket, lkey, source_key
        FROM unclaimed
        ORDER BY address, bucket, lkey""")
