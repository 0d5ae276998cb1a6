"""``python -m benchmarks [--quick] [--parts 1,3,...]``: run the benchmarks, print the table and the targets,
write ``benchmarks/results/<timestamp>.json`` and ``latest.json``.

Parts: 1 plan vs listing floor, 2 pure planning (bench_planner.run), 3 apply vs loops, 4 request and call
counts, 5 the local server (bench_local.run), 6 rate control, 7 the plan estimate's duration against an apply
(bench_estimate.run), 8 ``cosrecon upload`` against upload-then-apply (bench_ingest.run), 9 the columnar engine
against the Python planner and its queries at 10^6 and 10^7 sources (bench_columnar.run), 10 parallel listing
against the SDK's one-stream listing (bench_listing.run). A part whose subject is
missing or fails is recorded as not measured, with the reason; the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import common as c


def _normalise(raw: Any) -> dict[str, Any]:
    """Accept another engineer's ``run() -> dict``: our own shape, or {name: number | {median,min,max,unit}}."""
    if isinstance(raw, dict) and isinstance(raw.get("figures"), list):
        figs = []
        for f in raw["figures"]:
            if isinstance(f, dict) and "values" in f:
                figs.append(c.figure(f["name"], f.get("unit", ""), f["values"], f.get("note", "")))
            elif isinstance(f, dict) and "median" in f:
                figs.append({"name": f["name"], "unit": f.get("unit", ""), "median": f["median"],
                             "min": f.get("min", f["median"]), "max": f.get("max", f["median"]),
                             "runs": f.get("runs", 1), "values": f.get("values", []), "note": f.get("note", "")})
        return {**raw, "figures": figs}
    figures: list[dict[str, Any]] = []
    if isinstance(raw, dict):
        for name, value in raw.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                figures.append(c.figure(str(name), "", [value]))
            elif isinstance(value, dict) and "median" in value:
                figures.append({"name": str(name), "unit": value.get("unit", ""), "median": value["median"],
                                "min": value.get("min", value["median"]), "max": value.get("max", value["median"]),
                                "runs": value.get("runs", 1), "values": value.get("values", []),
                                "note": value.get("note", "")})
    return {"figures": figures, "raw": raw}


def _external(module: str, quick: bool) -> dict[str, Any]:
    mod = importlib.import_module(f"benchmarks.{module}")
    fn: Callable[..., Any] = mod.run
    kwargs = {"quick": quick} if "quick" in inspect.signature(fn).parameters else {}
    return _normalise(fn(**kwargs))


def _parts(args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    from benchmarks import bench_apply, bench_plan

    q = args.quick
    sizes = tuple(args.plan_sizes) if args.plan_sizes else ((2_000, 10_000) if q else (10_000, 100_000))
    reps = args.reps or (2 if q else 3)
    return {
        "1": lambda: bench_plan.run(sizes=sizes, reps=reps, converged=args.converged),
        "2": lambda: _external("bench_planner", q),
        "3": lambda: bench_apply.run_part3(sources=100 if q else args.apply_sources, reps=1 if q else reps,
                                           loop_rerun_reps=1),
        "4": lambda: bench_apply.run_part4(sources=40 if q else 100, repair=10 if q else 30),
        "5": lambda: _external("bench_local", q),
        "6": lambda: bench_apply.run_part6(sources=300 if q else 600, reps=1 if q else reps),
        "7": lambda: _external("bench_estimate", q),
        "8": lambda: _external("bench_ingest", q),
        "9": lambda: _external("bench_columnar", q),
        "10": lambda: _external("bench_listing", q),
    }


TITLES = {"1": "1 plan vs listing", "2": "2 pure planning", "3": "3 apply vs loops", "4": "4 request counts",
          "5": "5 local server", "6": "6 rate control",
          "7": "7 estimate vs apply", "8": "8 upload vs upload-then-apply", "9": "9 columnar engine",
          "10": "10 parallel listing"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs (a few minutes)")
    ap.add_argument("--parts", default="1,2,3,4,5,6,7,8,9,10", help="comma-separated part numbers")
    ap.add_argument("--plan-sizes", type=int, nargs="+", help="source counts for part 1 (default 10000 100000)")
    ap.add_argument("--converged", choices=("adopt", "replicate"), default="adopt",
                    help="part 1's converged state: cosrecon adopt of every output (default), or adopt of one "
                         "source with its ledger entries replicated (for very large sizes)")
    ap.add_argument("--apply-sources", type=int, default=500, help="sources for part 3 (default 500)")
    ap.add_argument("--reps", type=int, default=0, help="runs per figure (default 3; 2 with --quick)")
    ap.add_argument("--name", help="results file name (default: a UTC timestamp)")
    ap.add_argument("--no-write", action="store_true", help="print only; write no results file")
    ap.add_argument("--update-docs", action="store_true", help="rewrite the results section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    parts = _parts(args)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "machine": c.machine(), "quick": args.quick, "parts": {}}
    t0 = time.perf_counter()
    for key in [p.strip() for p in args.parts.split(",") if p.strip()]:
        title = TITLES.get(key, key)
        print(f"== part {title} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            body = parts[key]()
        except Exception as exc:  # a missing subject or a failed run: recorded, not fatal to the other parts
            tb = traceback.format_exc(limit=3)
            body = {"figures": [], "targets": [], "skipped": [f"{type(exc).__name__}: {exc}".strip()[:600]],
                    "traceback": tb}
            print(tb, file=sys.stderr)
        body["seconds"] = round(time.perf_counter() - start, 1)
        results["parts"][title] = body
        print(f"   done in {body['seconds']}s", file=sys.stderr, flush=True)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    print(c.render_table(results))
    print()
    print(c.render_targets(results))
    m = results["machine"]
    print(f"\nmachine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}; total {results['seconds']}s")
    if not args.no_write:
        path = c.write_results(results, args.name)
        print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if args.update_docs:
        c.update_docs(results, c.ROOT / "docs" / "benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
