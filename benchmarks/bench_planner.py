"""Part 2: pure planning at scale — 1,000,000 sources x 3 outputs from a synthetic listing, no HTTP.

Each run is a fresh subprocess (``python -m benchmarks.bench_planner --child SCENARIO N``) so its peak RSS
(``resource.getrusage`` maxrss) is its own. Two scenarios:

- ``first``: nothing exists, the ledger is empty: every output is created (3 N actions, N calls).
- ``converged``: every output stands as the ledger recorded it: no actions, 3 N unchanged.

Figures: expected outputs planned per second of CPU (``time.process_time`` around ``build_set_plan`` only),
peak RSS of the whole process (inputs included: the listing, the observed objects, the ledger), and the RSS the
inputs alone took before planning. Correctness is checked (counts) and a wrong result raises ``BenchError``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

from benchmarks import common as c

SOURCE_BUCKET = "bench-1250000000"
CDN_BUCKET = "cdn-1250000000"
FULL_N = 1_000_000
QUICK_N = 100_000
RUNS = 3
QUICK_RUNS = 1
OUTPUTS = 3


def _declaration() -> Any:
    from reconciler.declarations import build_declaration

    return build_declaration({
        "version": 1, "name": "bench", "region": c.REGION, "bucket": SOURCE_BUCKET,
        "pipelines": {"products": {"source": {"include": ["products/**/*.jpg"]}, "outputs": {
            "thumb": {"rule": "imageMogr2/thumbnail/200x/format/webp", "fileid": "/thumbs/{reldir}/{stem}-200.webp"},
            "large": {"rule": "imageMogr2/thumbnail/1200x", "fileid": "large/{name}"},
            "cdn": {"rule": "imageMogr2/format/avif", "fileid": "/{dir}/{stem}.avif", "bucket": CDN_BUCKET},
        }}},
    }, "bench.yaml")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(scenario: str, n: int) -> dict[str, Any]:
    """One measured run in this process: build the inputs, then time the planner."""
    from reconciler.model import Ledger, LedgerEntry, ObjectInfo
    from reconciler.planner import build_set_plan, expected_outputs
    from reconciler.rules import fingerprint

    decl = _declaration()
    etag = "0123456789abcdef0123456789abcdef"
    # a listing as the observer holds it: ObjectInfo per source, and the bucket's {key: etag}
    sources = [ObjectInfo(f"products/d{i % 997:03d}/p{i:07d}.jpg", etag, 1000, "2026-01-01T00:00:00.000Z")
               for i in range(n)]
    existing: dict[str, dict[str, str]] = {SOURCE_BUCKET: {s.key: s.etag for s in sources}, CDN_BUCKET: {}}
    entries: dict[tuple[str, str], LedgerEntry] = {}
    if scenario == "converged":
        fps = {f"{p.name}.{o.name}": fingerprint(o.rule, decl.output_bucket(o), o.fileid)
               for p in decl.pipelines for o in p.outputs}
        out_etag = "fedcba9876543210fedcba9876543210"
        for (address, bucket, key), src in zip(expected_outputs(decl, sources),
                                               (s for s in sources for _ in range(OUTPUTS))):
            existing[bucket][key] = out_etag
            entries[(bucket, key)] = LedgerEntry(bucket, key, address, src.key, src.etag, fps[address], out_etag,
                                                 "2026-01-01T00:00:00Z")
    ledger = Ledger("bench", "1", entries)
    inputs_mb = _rss_mb()
    start = time.process_time()
    plan = build_set_plan(decl, sources, existing, ledger, declaration_digest="d")
    cpu = time.process_time() - start
    expected = n * OUTPUTS
    if scenario == "first":
        ok = len(plan.actions) == expected and len(plan.calls) == n and sum(plan.unchanged.values()) == 0
    else:
        ok = len(plan.actions) == 0 and len(plan.calls) == 0 and sum(plan.unchanged.values()) == expected
    return {"scenario": scenario, "n": n, "outputs": expected, "cpu_s": cpu, "outputs_per_cpu_s": expected / cpu,
            "inputs_rss_mb": inputs_mb, "peak_rss_mb": _rss_mb(), "ok": ok}


def _measure(scenario: str, n: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_planner", "--child", scenario, str(n)],
                          capture_output=True, text=True, cwd=c.ROOT, timeout=1800)
    if proc.returncode != 0:
        raise c.BenchError(f"planner child {scenario} {n} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result["ok"]:
        raise c.BenchError(f"planner child {scenario} {n} produced a wrong plan: {result}")
    return result


def run(quick: bool = False) -> dict[str, Any]:
    n = QUICK_N if quick else FULL_N
    runs = QUICK_RUNS if quick else RUNS
    figures, targets = [], []
    for scenario in ("first", "converged"):
        results = [_measure(scenario, n) for _ in range(runs)]
        label = f"{n:,} sources x {OUTPUTS} outputs, {scenario}"
        rate = c.figure(f"pure planning, {label}", "outputs/CPU s", [r["outputs_per_cpu_s"] for r in results])
        peak = c.figure(f"peak RSS, {label}", "MB", [r["peak_rss_mb"] for r in results],
                        "whole process, inputs included")
        inputs = c.figure(f"RSS of the inputs alone, {label}", "MB", [r["inputs_rss_mb"] for r in results],
                          "listing + observed objects + ledger, before planning")
        figures += [rate, peak, inputs]
        targets.append(c.target(f"planning rate ({scenario})", rate["median"], ">=", 200_000, "outputs per CPU s"))
        if n == FULL_N:
            targets.append(c.target(f"peak RSS, 1M x 3 ({scenario})", peak["median"], "<=", 1024, "MB"))
    return {"figures": figures, "targets": targets}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        print(json.dumps(child(argv[1], int(argv[2]))))
        return
    results = run(quick="--quick" in argv)
    for f in results["figures"]:
        print(f"{f['name']}: median {f['median']:,.1f} {f['unit']} (min {f['min']:,.1f}, max {f['max']:,.1f}, "
              f"{f['runs']} runs)")
    for t in results["targets"]:
        print(f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']:,.1f} {t['op']} {t['bound']:,}")


if __name__ == "__main__":
    main(sys.argv[1:])
