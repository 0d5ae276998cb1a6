"""Part 1 (plan vs the listing floor) and part 4's plan request counts.

For each size N (sources, 3 outputs each), against the local server: ``cosrecon plan`` as a whole process vs
``baselines/list_floor.py`` (the bare SDK listing the same prefixes: the sources' and every output's; and with
``--fast``, the same signed requests parsed with ElementTree — a stricter floor), all whole processes, interleaved run by run so each ratio pairs runs made side by side. First run: nothing exists
and the state dir is empty. Converged: every output exists and is recorded — the outputs are seeded into the
store and recorded with ``cosrecon adopt`` (a real apply of 10^5 sources would take the benchmark an hour of
image processing; part 3 covers the converged state after a real apply). ``converged="replicate"`` instead
adopts one source and replicates its ledger entries, for sizes where a full adopt is too slow.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import common as c

_SUMMARY = re.compile(r"(\d[\d,]*) to create, (\d[\d,]*) to replace, (\d[\d,]*) to delete, (\d[\d,]*) conflicts?, "
                      r"(\d[\d,]*) unchanged; (\d[\d,]*) image_process calls?")


def parse_summary(text: str) -> dict[str, int]:
    """The plan's summary counts, from its text output (``No changes.`` means all zero but unchanged)."""
    m = _SUMMARY.search(text)
    if m:
        create, replace, delete, conflict, unchanged, calls = (int(g.replace(",", "")) for g in m.groups())
        return {"create": create, "replace": replace, "delete": delete, "conflict": conflict,
                "unchanged": unchanged, "calls": calls}
    if "No changes." in text:
        return {"create": 0, "replace": 0, "delete": 0, "conflict": 0, "unchanged": -1, "calls": 0}
    raise c.BenchError(f"no plan summary in output:\n{text[-1500:]}")


def _seed(root: Path, n: int, with_outputs: bool) -> None:
    body = c.jpeg_bytes(16, 12)
    items = [(c.source_key(i), body) for i in range(n)]
    if with_outputs:
        for _, _, fileid in c.OUTPUTS_3:
            items += [(c.output_key(fileid, i), body) for i in range(n)]
    c.seed_objects(root, c.BUCKET, items)


def _converged_ledger(base: Path, n: int, decl: Path, state: Path) -> None:
    """The converged state's ledger, without 3N HEADs: ``cosrecon adopt`` records one source's outputs (in a
    one-source store with the same bodies), then its entries are replicated for all N sources — every source and
    every output has the same body, so the same ETags and fingerprints. The plan then checks it: 3N unchanged."""
    from dataclasses import replace

    from reconciler.model import Ledger
    from reconciler.state.ledger_file import parse_ledger, render_ledger

    root = base / f"adopt-root-{n}"
    _seed(root, 1, with_outputs=True)
    with c.local_server(root) as server:
        env = c.credentials_env(server.secret_id, server.secret_key)
        c.run_process([*c.cosrecon_argv(), "adopt", "--yes", str(decl), *c.cli_env_args(server.endpoint, state)],
                      env=env)
    files = list(state.rglob("ledger.jsonl"))
    if len(files) != 1 or any(p.is_file() for p in state.rglob("journal/*")):
        raise c.BenchError(f"adopt left an unexpected state dir: {sorted(map(str, state.rglob('*')))}")
    adopted = parse_ledger(files[0].read_bytes())
    by_address = {e.address: e for e in adopted.entries.values()}
    if len(by_address) != len(c.OUTPUTS_3) or len(adopted.entries) != len(c.OUTPUTS_3):
        raise c.BenchError(f"adopt recorded {len(adopted.entries)} entries, expected {len(c.OUTPUTS_3)}")
    entries = {}
    for name, _, fileid in c.OUTPUTS_3:
        proto = by_address[f"p0.{name}"]
        for i in range(n):
            entry = replace(proto, key=c.output_key(fileid, i), source_key=c.source_key(i))
            entries[(entry.bucket, entry.key)] = entry
    files[0].write_bytes(render_ledger(Ledger(adopted.name, adopted.generation, entries, adopted.declaration)))


def _pair(server: Any, n: int, decl: Path, state: Path, env: dict[str, str], expect: dict[str, int],
          figs: dict[str, list[float]]) -> dict[str, int]:
    floor_argv = [sys.executable, str(c.BASELINES_DIR / "list_floor.py"), "--endpoint", server.endpoint,
                  "--bucket", c.BUCKET, "--prefix", "src/", *[a for p in c.output_prefixes() for a in ("--prefix", p)]]
    floor = c.run_process(floor_argv, env=env)
    fast = c.run_process([*floor_argv, "--fast"], env=env)
    for f in (floor, fast):
        if json.loads(f.stdout)["objects"] != n * (4 if expect.get("unchanged") else 1):
            raise c.BenchError(f"listing floor saw {f.stdout.strip()} for {n} sources")
    before = c.op_counts(server)
    plan = c.run_process([*c.cosrecon_argv(), "plan", str(decl), *c.cli_env_args(server.endpoint, state)], env=env)
    delta = c.diff_counts(c.op_counts(server), before)
    summary = parse_summary(plan.stdout)
    for key, want in expect.items():
        if summary.get(key) != want and not (key == "unchanged" and summary[key] == -1):
            raise c.BenchError(f"plan of {n} sources: {key}={summary.get(key)}, expected {want}")
    if c.process_calls(delta):
        raise c.BenchError(f"plan made image_process calls: {delta}")
    figs["floor"].append(floor.seconds)
    figs["fast"].append(fast.seconds)
    figs["plan"].append(plan.seconds)
    figs["rss"].append(plan.peak_rss_mb)
    figs["requests"].append(float(c.total_calls(delta)))
    figs["floor_requests"].append(float(json.loads(floor.stdout)["requests"]))
    return delta


def _measure(server: Any, n: int, decl: Path, state: Path, env: dict[str, str], expect: dict[str, int],
             reps: int, label: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    figs: dict[str, list[float]] = {"floor": [], "fast": [], "plan": [], "rss": [], "requests": [],
                                    "floor_requests": []}
    delta: dict[str, int] = {}
    for _ in range(reps):
        delta = _pair(server, n, decl, state, env, expect, figs)
    tag = f"{n:,} sources, {label}"
    ratio = c.ratio_figure(f"plan / listing floor ({tag})", figs["plan"], figs["floor"],
                           "whole processes both, paired runs")
    strict = c.ratio_figure(f"plan / strict floor ({tag})", figs["plan"], figs["fast"],
                            "SDK transport + ElementTree parsing, whole processes")
    out = [
        c.figure(f"listing floor wall ({tag})", "s", figs["floor"], "bare SDK list_objects, whole process"),
        c.figure(f"strict listing floor wall ({tag})", "s", figs["fast"],
                 "SDK request path, ElementTree parsing, whole process"),
        c.figure(f"cosrecon plan wall ({tag})", "s", figs["plan"], "whole process, text output"),
        ratio, strict,
        c.figure(f"cosrecon plan peak RSS ({tag})", "MB", figs["rss"]),
        c.figure(f"plan requests per 1,000 sources ({tag})", "req", [r * 1000 / n for r in figs["requests"]],
                 "all HTTP requests the server saw during plan"),
        c.figure(f"listing floor requests per 1,000 sources ({tag})", "req",
                 [r * 1000 / n for r in figs["floor_requests"]], "list pages of the same prefixes"),
    ]
    targets = [c.target(f"plan wall <= 1.2 x listing ({tag})", ratio["median"], "<=", 1.2),
               c.target(f"plan wall <= 1.2 x strict listing floor ({tag})", strict["median"], "<=", 1.2,
                        "stricter than the issue's floor")]
    return out, targets, {"requests_by_operation": delta}


def run(sizes: tuple[int, ...] = (10_000, 100_000), reps: int = 3, workdir: Path | None = None,
        converged: str = "adopt") -> dict[str, Any]:
    """``converged``: "adopt" records the seeded outputs with ``cosrecon adopt``; "replicate" adopts one source
    and replicates its ledger entries (for sizes where a full adopt would take too long)."""
    figures: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        base = Path(tmp)
        for n in sizes:
            root = base / f"root-{n}"
            _seed(root, n, with_outputs=False)
            decl = base / f"plan-{n}.yaml"
            decl.write_text(c.declaration_yaml(f"plan{n}"))
            with c.local_server(root) as server:
                env = c.credentials_env(server.secret_id, server.secret_key)
                first = base / f"state-first-{n}"
                f, t, d = _measure(server, n, decl, first, env, {"create": 3 * n, "calls": n}, reps, "first run")
                figures += f
                targets += t
                details[f"{n} first run"] = d
            _seed(root, n, with_outputs=True)
            with c.local_server(root) as server:
                env = c.credentials_env(server.secret_id, server.secret_key)
                conv = base / f"state-conv-{n}"
                if converged == "adopt":
                    adopt = c.run_process([*c.cosrecon_argv(), "adopt", "--yes", str(decl),
                                           *c.cli_env_args(server.endpoint, conv)], env=env)
                    figures.append(c.figure(f"cosrecon adopt wall ({n:,} sources, {3 * n:,} outputs)", "s",
                                            [adopt.seconds], "makes the converged state; one run"))
                else:
                    _converged_ledger(base, n, decl, conv)
                f, t, d = _measure(server, n, decl, conv, env, {"create": 0, "calls": 0, "unchanged": 3 * n},
                                   reps, "converged")
                figures += f
                targets += t
                details[f"{n} converged"] = d
    startup = [c.run_process([*c.cosrecon_argv(), "--version"]).seconds for _ in range(reps)]
    sdk_import = [c.run_process([sys.executable, "-c", "import qcloud_cos"]).seconds for _ in range(reps)]
    figures += [c.figure("start-up: cosrecon --version", "s", startup, "interpreter + CLI imports"),
                c.figure("start-up: python -c 'import qcloud_cos'", "s", sdk_import, "what the floor script pays")]
    return {"figures": figures, "targets": targets, "details": details,
            "setup": {"sizes": list(sizes), "reps": reps, "outputs_per_source": 3,
                      "converged_state": ("outputs seeded into the store, recorded with `cosrecon adopt`" if converged == "adopt"
                                         else "outputs seeded into the store; ledger from `cosrecon adopt` of one "
                                         "source, its entries replicated for all N (identical bodies and ETags)")}}
