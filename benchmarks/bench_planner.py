"""Part 2: pure planning at scale — 1,000,000 sources x 3 outputs from a synthetic listing, no HTTP.

Each run is a fresh subprocess (``python -m benchmarks.bench_planner --child SCENARIO N DIR``) so its peak RSS
(``resource.getrusage`` maxrss) is its own. The child does what ``cosrecon plan`` does, in the same order:

1. reads the set's ledger through the real ``state.LedgerStore`` (``--state-dir``: the bytes of ``ledger.jsonl``,
   a line at a time, ``ledger_file.parse_ledger``); the parent wrote that file beforehand, in the format the store
   writes;
2. observes through the real ``observe.observe_set`` against a synthetic ``Storage`` whose listings yield a fresh
   ``ObjectInfo`` (fresh key, ETag and LastModified strings, a distinct ETag per object) per object, as a parsed
   ListBucketResult page does;
3. plans with ``observe.plan_observed`` (``planner.build_set_plan`` given the observation; timed:
   ``time.process_time`` around it only).

The cyclic GC is paused throughout, as the CLI does around planning (``cli.gcpause``). Two scenarios:

- ``first``: nothing exists, no ledger: every output is created (3 N actions, N calls).
- ``converged``: every output stands as the ledger recorded it: no actions, 3 N unchanged.

Then ``remake`` (``remake_child``): an apply's bookkeeping after remaking one output of every source — the
ledger read, a record per remade output, the next ledger written — and ``save`` / ``load`` (``saved_plan_child``):
a first run's plan saved as ``plan --out`` does and read back as ``apply --plan`` does; measured (peak RSS, wall),
with no target.

Figures: expected outputs planned per second of CPU, peak RSS of the whole process, the RSS after reading the
ledger and after observing (the inputs, before planning). Correctness is checked (counts) and a wrong result raises
``BenchError``.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import common as c

SOURCE_BUCKET = "bench-1250000000"
CDN_BUCKET = "cdn-1250000000"
FULL_N = 1_000_000
QUICK_N = 100_000
RUNS = 3
QUICK_RUNS = 1
OUTPUTS = 3
_DIRS = 997


def _declaration() -> Any:
    from reconciler.declare.load import build_declaration

    # include products/*/*.jpg: the relative "large/{name}" outputs (products/dNNN/large/...) are listed with the
    # sources but are not sources themselves
    return build_declaration({
        "version": 1, "name": "bench", "region": c.REGION, "bucket": SOURCE_BUCKET,
        "pipelines": {"products": {"source": {"include": ["products/*/*.jpg"]}, "outputs": {
            "thumb": {"rule": "imageMogr2/thumbnail/200x/format/webp", "fileid": "/thumbs/{reldir}/{stem}-200.webp"},
            "large": {"rule": "imageMogr2/thumbnail/1200x", "fileid": "large/{name}"},
            "cdn": {"rule": "imageMogr2/format/avif", "fileid": "/{dir}/{stem}.avif", "bucket": CDN_BUCKET},
        }}},
    }, "bench.yaml")


# --- the synthetic bucket: every value a fresh object, as a parsed listing page gives ------------------------


def _source_key(i: int) -> str:
    return f"products/d{i % _DIRS:03d}/p{i:07d}.jpg"


def _etag(i: int, j: int) -> str:
    """A distinct MD5-like ETag per object (j = -1: the source i; j >= 0: its output j)."""
    return f"{(i * 4 + j + 1) * 0x9E3779B97F4A7C15 % (1 << 128):032x}"


def _made_at(i: int) -> str:
    seconds = i * OUTPUTS // 500  # a run making ~500 outputs per second
    return f"2026-01-{1 + seconds // 86400:02d}T{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"


def _sources(n: int) -> Iterator[Any]:
    from reconciler.model import ObjectInfo

    for i in range(n):
        yield ObjectInfo(_source_key(i), _etag(i, -1), 1000 + i % 1000, f"2026-01-01T00:00:{i % 60:02d}.000Z")


def _outputs(decl: Any, n: int) -> Iterator[tuple[int, int, str, str, str]]:
    """(source index, output index, address, bucket, key) of every expected output."""
    from reconciler.plan.planner import expected_outputs

    for index, (address, bucket, key) in enumerate(expected_outputs(decl, _sources(n))):
        yield index // OUTPUTS, index % OUTPUTS, address, bucket, key


class SyntheticStorage:
    """The ``Storage`` the observer lists: N sources, and (converged) their outputs. Read-only."""

    def __init__(self, decl: Any, n: int, converged: bool) -> None:
        self.decl, self.n, self.converged = decl, n, converged

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[Any]:
        from reconciler.model import ObjectInfo

        if bucket == SOURCE_BUCKET:
            yield from (s for s in _sources(self.n) if s.key.startswith(prefix) and s.key > start_after)
        if self.converged:
            for i, j, _, out_bucket, key in _outputs(self.decl, self.n):
                if out_bucket == bucket and key.startswith(prefix) and key > start_after:
                    yield ObjectInfo(key, _etag(i, j), 5000 + i % 1000, f"2026-01-01T01:00:{i % 60:02d}.000Z")

    def head_object(self, bucket: str, key: str) -> Any:
        raise c.BenchError(f"unexpected HEAD {bucket}/{key}: the benchmark plans from listings only")

    def __getattr__(self, name: str) -> Any:
        raise c.BenchError(f"unexpected storage call {name}: planning never writes")


def write_ledger(path: Path, n: int) -> int:
    """The converged ledger of ``n`` sources as ``state.LedgerStore`` writes it (``ledger_file.render_ledger``'s
    JSON Lines), streamed; its size."""
    from reconciler.declare.rules import fingerprint
    from reconciler.model import ObjectInfo
    from reconciler.plan.planner import expected_outputs

    decl = _declaration()
    fps = {decl.address(p, o): fingerprint(o.rule, decl.output_bucket(o), o.fileid)
           for p in decl.pipelines for o in p.outputs}
    outputs = sorted({(bucket, address, fps[address]) for _, _, address, bucket, _ in _outputs(decl, min(n, 1))})
    index = {o: k for k, o in enumerate(outputs)}
    made = sorted({_made_at(i) for i in range(n)})
    made_index = {m: k for k, m in enumerate(made)}
    header = {"format_version": 1, "kind": "ledger", "name": decl.name, "generation": "1", "declaration": None,
              "count": n * OUTPUTS, "outputs": [{"bucket": b, "address": a, "fingerprint": f} for b, a, f in outputs],
              "made_at": made}
    order = [i for d in range(_DIRS) for i in range(d, n, _DIRS)]  # the sources in key order, as the store sorts
    sources = (ObjectInfo(_source_key(i), _etag(i, -1), 0, "") for i in order)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header, separators=(",", ":")) + "\n")
        rows: list[list[Any]] = []
        for k, (address, bucket, key) in enumerate(expected_outputs(decl, sources)):
            i, j = order[k // OUTPUTS], k % OUTPUTS
            rows.append([index[(bucket, address, fps[address])], key, _etag(i, j), made_index[_made_at(i)]])
            if j == OUTPUTS - 1:
                rows.sort()
                line = {"source_key": _source_key(i), "source_etag": _etag(i, -1), "entries": rows}
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
                rows = []
    return path.stat().st_size


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def child(scenario: str, n: int, state_dir: str) -> dict[str, Any]:
    """One measured run in this process: read the ledger, observe, then time the planner."""
    from reconciler.plan.observed import observe_set, plan_observed
    from reconciler.state.store import LedgerStore

    gc.disable()  # as the CLI does around planning (cli.gcpause)
    decl = _declaration()
    storage = SyntheticStorage(decl, n, scenario == "converged")
    ledger = LedgerStore(lambda region: storage, Path(state_dir)).read(decl)  # type: ignore[arg-type,return-value]
    ledger_mb, ledger_peak_mb = _current_mb(), _rss_mb()
    obs = observe_set(decl, storage, ledger)  # type: ignore[arg-type]
    inputs_mb = _current_mb()
    start = time.process_time()
    plan = plan_observed(decl, obs, ledger, declaration_digest="d")
    cpu = time.process_time() - start
    expected = n * OUTPUTS
    if scenario == "first":
        ok = len(plan.actions) == expected and len(plan.calls) == n and sum(plan.unchanged.values()) == 0
    else:
        ok = len(plan.actions) == 0 and len(plan.calls) == 0 and sum(plan.unchanged.values()) == expected
    ok = ok and len(ledger.entries) == (expected if scenario == "converged" else 0)
    return {"scenario": scenario, "n": n, "outputs": expected, "cpu_s": cpu, "outputs_per_cpu_s": expected / cpu,
            "ledger_rss_mb": ledger_mb, "ledger_peak_rss_mb": ledger_peak_mb, "inputs_rss_mb": inputs_mb,
            "peak_rss_mb": _rss_mb(), "requests": obs.requests, "ok": ok}


def remake_child(n: int, state_dir: str) -> dict[str, Any]:
    """An apply's bookkeeping at scale, no HTTP: read the converged ledger as apply does (``LedgerStore.snapshot``),
    record one remade output per source into the run's ``SetRun`` (as evidence does after each call), then write
    the next generation (``LedgerStore.compact``: ``ledger_file.render_ledger``, to the state dir)."""
    from dataclasses import replace

    from reconciler.apply.bookkeeping import SetRun
    from reconciler.state.ledger import JournalRecord
    from reconciler.state.index import LedgerIndex
    from reconciler.model import SetPlan
    from reconciler.state.store import LedgerStore

    gc.disable()
    decl = _declaration()
    store = LedgerStore(lambda region: None, Path(state_dir))  # type: ignore[arg-type,return-value]
    start = time.monotonic()
    snap = store.snapshot(decl)
    index = snap.ledger.entries
    if not isinstance(index, LedgerIndex):
        raise c.BenchError("the ledger was not read as a LedgerIndex")

    class Journal:  # records reach the journal as in apply; writing segments is not measured here
        names: list[str] = []

        def add(self, records: Any) -> None:
            pass

    run = SetRun(decl, SetPlan(decl.name, "d", snap.ledger.generation, (), (), {}), snap, Journal())  # type: ignore
    remade = 0
    for group in index.groups():
        for j in index.positions(group):
            if index.address_at(group, j) == "products.thumb":
                entry = index.entry(group, j)
                run.record([JournalRecord.put(replace(entry, output_etag=_etag(remade, 9), made_at=_made_at(n)))])
                remade += 1
    recorded_mb = _rss_mb()
    new = store.compact(decl, replace(snap.ledger, entries=run.entries), None, ())
    return {"n": n, "remade": remade, "seconds": time.monotonic() - start, "recorded_peak_rss_mb": recorded_mb,
            "peak_rss_mb": _rss_mb(), "ok": remade == n and len(new.entries) == n * OUTPUTS}


def saved_plan_child(step: str, n: int, directory: str) -> dict[str, Any]:
    """``save``: plan a first run of ``n`` sources and save it as ``plan --out`` does; ``load``: read it back as
    ``apply --plan`` does (``planfile.load_plan``), in a process of its own so its peak RSS is the load's."""
    from reconciler.model import ActionKind, Ledger, Plan
    from reconciler.plan.observed import observe_set, plan_observed
    from reconciler.plan.planfile import load_plan, save_plan

    gc.disable()
    path = Path(directory) / "plan.json"
    start = time.monotonic()
    if step == "save":
        decl = _declaration()
        obs = observe_set(decl, SyntheticStorage(decl, n, False), Ledger(decl.name))  # type: ignore[arg-type]
        plan = Plan((plan_observed(decl, obs, Ledger(decl.name), declaration_digest="d" * 64),))
        start = time.monotonic()
        save_plan(plan, path)
        return {"seconds": time.monotonic() - start, "mb": path.stat().st_size / 2**20, "ok": plan.calls == n}
    plan = load_plan(path)
    return {"seconds": time.monotonic() - start, "peak_rss_mb": _rss_mb(),
            "ok": plan.calls == n and plan.count(ActionKind.CREATE) == n * OUTPUTS}


def _measure(scenario: str, n: int, state_dir: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_planner", "--child", scenario, str(n),
                           str(state_dir)], capture_output=True, text=True, cwd=c.ROOT, timeout=1800)
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
        with tempfile.TemporaryDirectory(prefix="cosrecon-bench-") as tmp:
            state_dir = Path(tmp)
            note = "no ledger"
            if scenario == "converged":
                size = write_ledger(state_dir / "bench" / "ledger.jsonl", n)
                note = f"ledger.jsonl {size / 2**20:,.0f} MB"
            results = [_measure(scenario, n, state_dir) for _ in range(runs)]
        label = f"{n:,} sources x {OUTPUTS} outputs, {scenario}"
        rate = c.figure(f"pure planning, {label}", "outputs/CPU s", [r["outputs_per_cpu_s"] for r in results])
        peak = c.figure(f"peak RSS, {label}", "MB", [r["peak_rss_mb"] for r in results],
                        f"whole process: ledger read, listing, plan ({note})")
        ledger_peak = c.figure(f"peak RSS while reading the ledger, {label}", "MB",
                               [r["ledger_peak_rss_mb"] for r in results], "bytes + JSON document + entries")
        ledger_rss = c.figure(f"RSS of the ledger read, {label}", "MB", [r["ledger_rss_mb"] for r in results])
        inputs = c.figure(f"RSS of the inputs alone, {label}", "MB", [r["inputs_rss_mb"] for r in results],
                          "ledger + observed objects, before planning")
        figures += [rate, peak, ledger_peak, ledger_rss, inputs]
        targets.append(c.target(f"planning rate ({scenario})", rate["median"], ">=", 200_000, "outputs per CPU s"))
        if n == FULL_N:
            targets.append(c.target(f"peak RSS, 1M x 3 ({scenario})", peak["median"], "<=", 1024, "MB"))
    with tempfile.TemporaryDirectory(prefix="cosrecon-bench-") as tmp:
        write_ledger(Path(tmp) / "bench" / "ledger.jsonl", n)
        remakes = [_measure("remake", n, Path(tmp)) for _ in range(runs)]
    label = f"{n:,} sources x {OUTPUTS} outputs, 1 output per source remade"
    figures.append(c.figure(f"apply bookkeeping peak RSS, {label}", "MB", [r["peak_rss_mb"] for r in remakes],
                            "ledger read, one record per remade output, next ledger written (no target)"))
    figures.append(c.figure(f"apply bookkeeping wall, {label}", "s", [r["seconds"] for r in remakes]))
    with tempfile.TemporaryDirectory(prefix="cosrecon-bench-") as tmp:
        saved = _measure("save", n, Path(tmp))
        loads = [_measure("load", n, Path(tmp)) for _ in range(runs)]
    label = f"{n:,} sources x {OUTPUTS} outputs, first run ({saved['mb']:,.0f} MB)"
    figures.append(c.figure(f"saved plan: load wall (apply --plan), {label}", "s", [r["seconds"] for r in loads]))
    figures.append(c.figure(f"saved plan: load peak RSS, {label}", "MB", [r["peak_rss_mb"] for r in loads],
                            "planfile.load_plan in a process of its own (no target)"))
    return {"figures": figures, "targets": targets}


def main(argv: list[str]) -> None:
    if argv[:1] in (["--help"], ["-h"]):
        print(f"{__doc__}\nUsage: python -m benchmarks.bench_planner [--quick]  (full: {FULL_N:,} sources, {RUNS} runs)\n"
              "       --write-ledger N FILE             write the converged ledger\n"
              "       --child SCENARIO N STATE_DIR      one measured run (first | converged | remake | save | load)")
        return
    if argv[:1] == ["--child"]:
        scenario, n, directory = argv[1], int(argv[2]), argv[3]
        if scenario == "remake":
            result = remake_child(n, directory)
        elif scenario in ("save", "load"):
            result = saved_plan_child(scenario, n, directory)
        else:
            result = child(scenario, n, directory)
        print(json.dumps(result))
        return
    if argv[:1] == ["--write-ledger"]:  # for profiling by hand: --write-ledger N FILE
        print(write_ledger(Path(argv[2]), int(argv[1])))
        return
    results = run(quick="--quick" in argv)
    for f in results["figures"]:
        print(f"{f['name']}: median {f['median']:,.1f} {f['unit']} (min {f['min']:,.1f}, max {f['max']:,.1f}, "
              f"{f['runs']} runs)")
    for t in results["targets"]:
        print(f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']:,.1f} {t['op']} {t['bound']:,}")


if __name__ == "__main__":
    main(sys.argv[1:])
