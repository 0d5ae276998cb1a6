"""Part 9: the columnar engine (issue 23) — planning with DuckDB against the Python planner, and its queries at scale.

Two kinds of measured child process (``python -m benchmarks.bench_columnar --child KIND ...``), each its own peak
RSS (``resource.getrusage`` maxrss) and CPU time (``time.process_time``: every thread of the process, DuckDB's too):

- ``path SCENARIO N PLANNER``: what ``cosrecon plan`` does for one set, as part 2 (``bench_planner``) does it: the
  ledger read through ``state.LedgerStore`` (``ledger.jsonl``), observed through ``observe_set`` from a synthetic
  listing, then planned by ``PLANNER`` (``python``: ``planner.build_set_plan``; ``columnar``:
  ``columnar.build_set_plan_columnar`` on an ``Engine``). Timed: the planning alone, as part 2 times it — for the
  engine that includes loading the observation and the ledger into Arrow tables and making the plan's calls.
- ``engine SCENARIO N MEMORY``: the engine's queries alone (``query.planning``: expected outputs, problems,
  classify, unchanged counts, orphans; the calls counted in SQL, not brought into Python) on tables generated
  inside DuckDB (``range(N)``: no Python object per source), under ``SET memory_limit = MEMORY``, spilling to a
  temporary folder. What a plan costs once its inputs are columns (an inventory, a Parquet ledger); the figure the
  projection in docs/scale.md is fitted to.

Scenarios as part 2: ``first`` (nothing exists, no ledger: 3 N creates) and ``converged`` (every output stands as
recorded: 3 N unchanged). Correctness is checked (counts) and a wrong result raises ``BenchError``.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import common as c

OUTPUTS = 3
PATH_N, QUICK_PATH_N = 1_000_000, 100_000
ENGINE_NS, QUICK_ENGINE_NS = (1_000_000, 10_000_000), (100_000, 1_000_000)
MEMORY = "1GiB"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def path_child(scenario: str, n: int, planner: str) -> dict[str, Any]:
    """One set planned by ``planner`` from part 2's synthetic listing and ledger, the planning timed."""
    collecting = gc.isenabled()
    gc.disable()  # as the CLI does around planning
    try:
        return _path(scenario, n, planner)
    finally:
        if collecting:
            gc.enable()


def _path(scenario: str, n: int, planner: str) -> dict[str, Any]:
    from benchmarks import bench_planner as bp
    from reconciler.plan.columnar import build_set_plan_columnar
    from reconciler.plan.observed import observe_set
    from reconciler.plan.planner import build_set_plan
    from reconciler.query.engine import Engine, parse_memory
    from reconciler.state.store import LedgerStore

    with tempfile.TemporaryDirectory(prefix="cosrecon-bench-") as tmp:
        if scenario == "converged":
            bp.write_ledger(Path(tmp) / "bench" / "ledger.jsonl", n)
        decl = bp._declaration()
        storage = bp.SyntheticStorage(decl, n, scenario == "converged")
        ledger = LedgerStore(lambda region: storage, Path(tmp)).read(decl)  # type: ignore[arg-type,return-value]
        obs = observe_set(decl, storage, ledger)  # type: ignore[arg-type]
        if obs.index is not None:
            ledger = replace(ledger, entries=obs.index)
        inputs_mb = _peak_mb()
        start = time.process_time()
        if planner == "python":
            plan = build_set_plan(decl, obs.sources, obs.existing, ledger, confirmed=obs.confirmed)
        else:
            with Engine(parse_memory(MEMORY), temp_directory=tmp) as engine:
                plan = build_set_plan_columnar(decl, obs.sources, obs.existing, ledger, confirmed=obs.confirmed,
                                               engine=engine)
        cpu = time.process_time() - start
    expected = n * OUTPUTS
    if scenario == "first":
        ok = len(plan.calls) == n and plan.count(plan.calls[0].targets[0].action) == expected
    else:
        ok = not plan.calls and sum(plan.unchanged.values()) == expected
    return {"cpu_s": cpu, "outputs_per_cpu_s": expected / cpu, "peak_rss_mb": _peak_mb(), "inputs_peak_mb": inputs_mb,
            "ok": ok}


def _generate(engine: Any, scenario: str, n: int) -> None:
    """The tables of ``query.planning`` for part 2's bucket, made by DuckDB from ``range(n)``."""
    from reconciler.plan.columnar import pipelines_sql
    from reconciler.plan.compiled import compile_pipelines
    from benchmarks import bench_planner as bp

    decl = bp._declaration()
    pipes = compile_pipelines(decl, {})
    outs = [o for p in pipes for o in p.outputs]
    key = "'products/d' || lpad((i % 997)::VARCHAR, 3, '0') || '/p' || lpad(i::VARCHAR, 7, '0') || '.jpg'"
    engine.run(f"CREATE TEMP TABLE sources AS SELECT i AS ord, {key} AS key, md5(i::VARCHAR) AS etag "
               f"FROM range({n}) t(i)")
    values = ", ".join(f"({o.index}, '{o.address}', '{o.bucket}', '{o.fingerprint}', false)" for o in outs)
    engine.run(f"CREATE TEMP TABLE outputs AS SELECT * FROM (VALUES {values}) "
               "t(out, address, bucket, fingerprint, overwrite_source)")
    engine.run(f"CREATE TEMP TABLE ledger_outputs AS SELECT out AS lout, bucket, address, fingerprint FROM outputs")
    if scenario == "first":
        engine.run("CREATE TEMP TABLE observed AS SELECT 'bench-1250000000' AS bucket, key, etag FROM sources")
        engine.run("CREATE TEMP TABLE ledger (entry BIGINT, lout BIGINT, key VARCHAR, source_key VARCHAR, "
                   "source_etag VARCHAR, output_etag VARCHAR, confirmed BOOLEAN)")
        return
    # converged: the expected outputs are the ledger, every one confirmed by the listing (as observe marks them)
    from reconciler.query import planning as q

    q.expected_outputs(engine, pipelines_sql(decl, pipes))
    engine.run("CREATE TEMP TABLE ledger AS SELECT row_number() OVER () - 1 AS entry, out AS lout, okey AS key, "
               "key AS source_key, etag AS source_etag, md5(okey) AS output_etag, true AS confirmed FROM expected")
    engine.run("CREATE TEMP TABLE observed AS SELECT 'bench-1250000000' AS bucket, key, etag FROM sources")


def engine_child(scenario: str, n: int, memory: str) -> dict[str, Any]:
    from benchmarks import bench_planner as bp
    from reconciler.plan.columnar import definitions_sql, pipelines_sql
    from reconciler.plan.compiled import compile_pipelines
    from reconciler.query import planning as q
    from reconciler.query.engine import Engine, parse_memory

    decl = bp._declaration()
    sql = pipelines_sql(decl, compile_pipelines(decl, {}))
    with tempfile.TemporaryDirectory(prefix="cosrecon-spill-") as spill, \
            Engine(parse_memory(memory), temp_directory=spill, threads=int(os.environ.get("COSRECON_BENCH_THREADS", "0")) or None) as engine:
        setup = time.process_time()
        _generate(engine, scenario, n)
        start = time.process_time()
        q.expected_outputs(engine, sql)
        problems = q.count_problems(engine, decl.bucket)
        q.classify(engine, decl.bucket, False)
        unchanged = sum(q.unchanged_counts(engine).values())
        calls = engine.value(f"SELECT count(DISTINCT ord) FROM classified WHERE cls NOT IN ({q.UNCHANGED}, "
                             f"{q.CONFLICT})")
        orphans = len(q.orphans(engine, sql, definitions_sql(decl), False))
        cpu = time.process_time() - start
        spilled = engine.value("SELECT coalesce(max(size), 0) FROM duckdb_temporary_files()") or 0
    expected = n * OUTPUTS
    ok = problems == 0 and orphans == 0 and (
        (calls == n and unchanged == 0) if scenario == "first" else (calls == 0 and unchanged == expected))
    return {"cpu_s": cpu, "setup_cpu_s": start - setup, "outputs_per_cpu_s": expected / cpu,
            "peak_rss_mb": _peak_mb(), "spilled_mb": spilled / 2**20, "ok": ok}


def _measure(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_columnar", "--child", *args],
                          capture_output=True, text=True, cwd=c.ROOT, timeout=3600)
    if proc.returncode != 0:
        raise c.BenchError(f"columnar child {args} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result["ok"]:
        raise c.BenchError(f"columnar child {args} produced a wrong plan: {result}")
    return result


def run(quick: bool = False) -> dict[str, Any]:
    n = QUICK_PATH_N if quick else PATH_N
    figures, targets = [], []
    for scenario in ("first", "converged"):
        label = f"{n:,} sources x {OUTPUTS} outputs, {scenario}"
        runs = {p: _measure("path", scenario, str(n), p) for p in ("python", "columnar")}
        rate = c.figure(f"columnar engine planning, {label}", "outputs/CPU s", [runs["columnar"]["outputs_per_cpu_s"]],
                        "observation and ledger as Python objects (part 2's path), loaded into Arrow, queried, "
                        "calls made")
        figures.append(rate)
        figures.append(c.figure(f"Python planner, {label}", "outputs/CPU s", [runs["python"]["outputs_per_cpu_s"]],
                                "the same inputs, the same process layout"))
        figures.append(c.figure(f"columnar engine peak RSS, {label}", "MB", [runs["columnar"]["peak_rss_mb"]],
                                f"memory_limit {MEMORY}"))
        figures.append(c.figure(f"Python planner peak RSS, {label}", "MB", [runs["python"]["peak_rss_mb"]]))
        targets.append(c.target(f"columnar planning rate ({scenario}, {n:,} x {OUTPUTS})", rate["median"], ">=",
                                1_000_000, "outputs per CPU s (issue 23)"))
    for size in (QUICK_ENGINE_NS if quick else ENGINE_NS):
        for scenario in ("first", "converged"):
            r = _measure("engine", scenario, str(size), MEMORY)
            label = f"{size:,} sources x {OUTPUTS} outputs, {scenario}"
            figures.append(c.figure(f"engine queries alone, {label}", "outputs/CPU s", [r["outputs_per_cpu_s"]],
                                    f"tables made in DuckDB; memory_limit {MEMORY}"))
            figures.append(c.figure(f"engine queries alone, peak RSS, {label}", "MB", [r["peak_rss_mb"]],
                                    f"spilled {r['spilled_mb']:,.0f} MB at most"))
            figures.append(c.figure(f"engine queries alone, CPU, {label}", "s", [r["cpu_s"]]))
            if size >= 10_000_000:
                targets.append(c.target(f"engine peak RSS ({label})", r["peak_rss_mb"], "<=", 2048, "MB"))
    return {"figures": figures, "targets": targets}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        kind, scenario, n, extra = argv[1], argv[2], int(argv[3]), argv[4]
        result = path_child(scenario, n, extra) if kind == "path" else engine_child(scenario, n, extra)
        print(json.dumps(result))
        return
    results = run(quick="--quick" in argv)
    for f in results["figures"]:
        print(f"{f['name']}: {f['median']:,.1f} {f['unit']}  {f['note']}")
    for t in results["targets"]:
        print(f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']:,.1f} {t['op']} {t['bound']:,}")


if __name__ == "__main__":
    main(sys.argv[1:])
