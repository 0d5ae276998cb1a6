"""Part 7: the plan estimate's duration against an actual apply on the local server, at ``--max-qps 50``.

``cosrecon plan --format json`` gives ``estimate.seconds`` for N sources x 3 outputs (N calls); then
``cosrecon apply`` runs at the same pace against a server that takes 50 ms per processing request, and the call
phase (first call to last, as the server saw it) is timed. Target: estimate / actual within 0.8 to 1.2.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import common as c
from benchmarks.bench_apply import _Env, _apply

MAX_QPS = 50.0


def run(quick: bool = False) -> dict[str, Any]:
    sources = 150 if quick else 500
    reps = 1 if quick else 3
    ratios: list[float] = []
    estimates: list[float] = []
    actuals: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = _Env(Path(tmp), sources, (64, 48))
        decl = Path(tmp) / "estimate.yaml"
        decl.write_text(c.declaration_yaml("estimate7"))
        for _ in range(reps):
            root, state = env.fresh()
            with c.local_server(root, latency_ms=50, ci_qps=0) as srv:
                environ = c.credentials_env(srv.secret_id, srv.secret_key)
                plan = c.run_process([*c.cosrecon_argv(), "plan", str(decl), "--format", "json", "--max-qps",
                                      str(MAX_QPS), "--parallelism", "16",
                                      *c.cli_env_args(srv.endpoint, state)], env=environ)
                estimate = float(json.loads(plan.stdout)["estimate"]["seconds"])
                _, sampler = _apply(srv, decl, state, max_qps=MAX_QPS, expect_calls=sources)
                actual = (sources - 1) / sampler.phase_rate()
            estimates.append(estimate)
            actuals.append(actual)
            ratios.append(estimate / actual)
    figures = [c.figure(f"estimated duration ({sources} calls, --max-qps {MAX_QPS:g})", "s", estimates),
               c.figure("actual call phase (server-observed, 50 ms per call)", "s", actuals),
               c.figure("estimate / actual", "x", ratios)]
    targets = [c.target("estimate within 20% of the actual call phase (worst run)",
                        max(abs(r - 1) for r in ratios), "<=", 0.2, "|estimate / actual - 1|")]
    return {"figures": figures, "targets": targets, "setup": {"sources": sources, "reps": reps, "max_qps": MAX_QPS}}
