"""Part 3 (apply vs the loops users would write), part 4's apply calls vs the minimum, part 6 (rate control).

Part 3: the local server adds ``latency_ms`` (50) to each processing call and has no CI rate limit
(``ci_qps=0``); ``cosrecon apply --parallelism 16 --max-qps 100000`` vs ``baselines/sequential_loop.py`` and
``baselines/threaded_loop.py`` (16 threads), all whole processes, each on a fresh copy of the same seeded store;
then the converged re-run (cosrecon: zero calls; the loops redo everything). The server's zero-latency rate
(the other half of the concurrency target) is measured in the same run: the 16-thread loop and cosrecon at
latency 0, the higher of the two. Call rates are also sampled on the server (first call to last), which
excludes process start-up and listing.

Part 4: a 7-output declaration over two pipelines sharing the sources (packing across pipelines: 2 calls per
source), a partial repair after deleting one output of some sources, and a converged re-run; calls counted by
the server and compared with sum(ceil(outputs to make / 5)).

Part 6: ``--max-qps 100`` at zero latency against a server allowing more: the rate the server saw.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import common as c

OUTPUTS_7 = (*c.OUTPUTS_3,
             ("t48", "imageMogr2/thumbnail/48x/format/webp", "/out/t48/{reldir}/{stem}.webp"),
             ("t24", "imageMogr2/thumbnail/24x/format/png", "/out/t24/{reldir}/{stem}.png"),
             ("rot", "imageMogr2/rotate/90", "/out/rot/{reldir}/{stem}.jpg"),
             ("flip", "imageMogr2/flip/vertical", "/out/flip/{reldir}/{stem}.jpg"))


class _Env:
    """A work folder with one seeded template store; every run gets a fresh copy of it."""

    def __init__(self, base: Path, sources: int, image: tuple[int, int]) -> None:
        self.base = base
        self.template = base / "template"
        body = c.jpeg_bytes(*image)
        c.seed_objects(self.template, c.BUCKET, [(c.source_key(i), body) for i in range(sources)])
        self.runs = 0

    def fresh(self) -> tuple[Path, Path]:
        """A fresh server root and an empty state dir."""
        self.runs += 1
        root = c.copy_root(self.template, self.base / f"root-{self.runs}")
        return root, self.base / f"state-{self.runs}"


def _apply(server: Any, decl: Path, state: Path, *, max_qps: float, expect_calls: int) -> tuple[c.ProcessRun, Any]:
    env = c.credentials_env(server.secret_id, server.secret_key)
    before = c.op_counts(server)
    with c.CallSampler(server) as sampler:
        proc = c.run_process([*c.cosrecon_argv(), "apply", str(decl), "--yes", "--parallelism", "16",
                              "--max-qps", str(max_qps), *c.cli_env_args(server.endpoint, state)], env=env)
    if sampler.calls() != expect_calls:
        raise c.BenchError(f"cosrecon apply made {sampler.calls()} image_process calls, expected {expect_calls}")
    sampler.requests = c.diff_counts(c.op_counts(server), before)
    return proc, sampler


def _loop(server: Any, script: str, sources: int, outputs: tuple[tuple[str, str, str], ...] = c.OUTPUTS_3
          ) -> tuple[c.ProcessRun, Any]:
    env = c.credentials_env(server.secret_id, server.secret_key)
    rules = json.dumps([{"fileid": f, "rule": r} for _, r, f in outputs])
    with c.CallSampler(server) as sampler:
        proc = c.run_process([sys.executable, str(c.BASELINES_DIR / script), "--endpoint", server.endpoint,
                              "--bucket", c.BUCKET, "--prefix", "src/", "--suffix", ".jpg", "--rules", rules], env=env)
    if sampler.calls() != sources:
        raise c.BenchError(f"{script} made {sampler.calls()} calls, expected {sources}")
    return proc, sampler


def run_part3(sources: int = 500, reps: int = 3, latency_ms: float = 50.0, loop_rerun_reps: int = 1,
              workdir: Path | None = None) -> dict[str, Any]:
    v: dict[str, list[float]] = {k: [] for k in (
        "apply", "apply_rate", "apply_phase", "rerun", "rerun_calls", "seq", "seq_phase", "thr", "thr_phase",
        "seq_rerun", "thr_rerun", "cap_loop", "cap_apply", "cap", "apply_other")}
    requests: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        env = _Env(Path(tmp), sources, (128, 96))
        decl = Path(tmp) / "apply.yaml"
        decl.write_text(c.declaration_yaml("apply3"))
        want = c.min_calls(sources, 3)
        for rep in range(reps):
            root, state = env.fresh()
            with c.local_server(root, latency_ms=latency_ms) as srv:
                proc, s = _apply(srv, decl, state, max_qps=100000, expect_calls=want)
                v["apply"].append(proc.seconds)
                v["apply_rate"].append(want / proc.seconds)
                v["apply_phase"].append(s.phase_rate())
                v["apply_other"].append(float(c.total_calls(s.requests) - c.process_calls(s.requests)))
                requests["first apply"] = s.requests
                proc, s = _apply(srv, decl, state, max_qps=100000, expect_calls=0)
                requests["converged re-run"] = s.requests
                v["rerun"].append(proc.seconds)
                v["rerun_calls"].append(float(s.calls()))
            for script, key in (("sequential_loop.py", "seq"), ("threaded_loop.py", "thr")):
                root, _ = env.fresh()
                with c.local_server(root, latency_ms=latency_ms) as srv:
                    proc, s = _loop(srv, script, sources)
                    v[key].append(proc.seconds)
                    v[key + "_phase"].append(s.phase_rate())
                    if rep < loop_rerun_reps:
                        v[key + "_rerun"].append(_loop(srv, script, sources)[0].seconds)
            root, state = env.fresh()
            with c.local_server(root, latency_ms=0) as srv:
                v["cap_loop"].append(_loop(srv, "threaded_loop.py", sources)[1].phase_rate())
            root, state = env.fresh()
            with c.local_server(root, latency_ms=0) as srv:
                v["cap_apply"].append(_apply(srv, decl, state, max_qps=100000, expect_calls=want)[1].phase_rate())
            v["cap"].append(max(v["cap_loop"][-1], v["cap_apply"][-1]))
    ideal = 16 / (latency_ms / 1000.0) if latency_ms else float("inf")
    bound = [0.8 * min(ideal, cap) for cap in v["cap"]]
    tag = f"{sources} sources x 3 outputs, {latency_ms:g} ms/call"
    speed_seq = c.ratio_figure(f"cosrecon speed-up vs sequential loop ({tag})", v["seq"], v["apply"],
                               "loop wall / cosrecon wall, whole processes")
    speed_thr = c.ratio_figure(f"cosrecon speed-up vs 16-thread loop ({tag})", v["thr"], v["apply"],
                               "loop wall / cosrecon wall, whole processes")
    figures = [
        c.figure(f"cosrecon apply wall ({tag})", "s", v["apply"], "whole process: start-up, plan, calls, ledger"),
        c.figure("cosrecon apply throughput, whole process", "calls/s", v["apply_rate"]),
        c.figure("cosrecon apply throughput, call phase (server-observed)", "calls/s", v["apply_phase"]),
        c.figure(f"sequential loop wall ({tag})", "s", v["seq"]),
        c.figure("sequential loop throughput, call phase", "calls/s", v["seq_phase"]),
        c.figure(f"16-thread loop wall ({tag})", "s", v["thr"]),
        c.figure("16-thread loop throughput, call phase", "calls/s", v["thr_phase"]),
        speed_seq, speed_thr,
        c.ratio_figure("call-phase rate: cosrecon / 16-thread loop", v["apply_phase"], v["thr_phase"],
                       "same server settings, paired runs"),
        c.figure("server zero-latency rate: 16-thread loop", "calls/s", v["cap_loop"]),
        c.figure("server zero-latency rate: cosrecon apply", "calls/s", v["cap_apply"]),
        c.figure("concurrency bound 0.8 x min(16/latency, server rate)", "calls/s", bound),
        c.figure("cosrecon apply: requests besides image_process", "req", v["apply_other"],
                 "listing, ETag look-ups; ledger kept in --state-dir"),
        c.figure("converged re-run: cosrecon wall", "s", v["rerun"]),
        c.figure("converged re-run: cosrecon image_process calls", "calls", v["rerun_calls"]),
        c.figure("re-run: sequential loop wall (redoes all)", "s", v["seq_rerun"], f"{sources} calls again"),
        c.figure("re-run: 16-thread loop wall (redoes all)", "s", v["thr_rerun"], f"{sources} calls again"),
        c.ratio_figure("re-run: sequential loop / cosrecon", v["seq_rerun"], v["rerun"][:len(v["seq_rerun"])]),
        c.ratio_figure("re-run: 16-thread loop / cosrecon", v["thr_rerun"], v["rerun"][:len(v["thr_rerun"])]),
    ]
    med_bound = c.figure("b", "", bound)["median"]
    targets = [
        c.target("apply throughput (call phase) >= 0.8 x min(16/0.05s, server zero-latency rate)",
                 c.figure("x", "", v["apply_phase"])["median"], ">=", med_bound),
        c.target("apply throughput (whole process) >= 0.8 x min(16/0.05s, server zero-latency rate)",
                 c.figure("x", "", v["apply_rate"])["median"], ">=", med_bound,
                 "includes interpreter start-up, plan and ledger writes"),
        c.target("apply >= 8 x the sequential loop (whole processes)", speed_seq["median"], ">=", 8.0),
        c.target("converged re-run makes 0 calls", max(v["rerun_calls"]), "<=", 0.0),
    ]
    return {"figures": figures, "targets": targets, "details": {"apply requests by operation (last run)": requests},
            "setup": {"sources": sources, "outputs": 3, "image": "128x96 JPEG", "latency_ms": latency_ms,
                      "ci_qps": 0, "parallelism": 16, "max_qps": 100000, "reps": reps,
                      "loop_rerun_reps": loop_rerun_reps}}


def run_part4(sources: int = 100, repair: int = 30, workdir: Path | None = None) -> dict[str, Any]:
    """Calls vs the minimum: 7 outputs over 2 pipelines; a partial repair; a converged re-run."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        env = _Env(Path(tmp), sources, (64, 48))
        decl = Path(tmp) / "pack.yaml"
        decl.write_text(c.declaration_yaml("pack7", OUTPUTS_7, pipelines=2))
        root, state = env.fresh()
        want_first = c.min_calls(sources, len(OUTPUTS_7))
        with c.local_server(root) as srv:
            first = _apply(srv, decl, state, max_qps=100000, expect_calls=want_first)[1].calls()
            client = c.sdk_client(srv.endpoint, srv.secret_id, srv.secret_key)
            for i in range(repair):
                client.delete_object(Bucket=c.BUCKET, Key=c.output_key(OUTPUTS_7[0][2], i))
            want_repair = c.min_calls(repair, 1)
            repaired = _apply(srv, decl, state, max_qps=100000, expect_calls=want_repair)[1].calls()
            rerun = _apply(srv, decl, state, max_qps=100000, expect_calls=0)[1].calls()
        adopt_n = sources * 10
        adopt_root = Path(tmp) / "adopt-root"
        body = c.jpeg_bytes(16, 12)
        c.seed_objects(adopt_root, c.BUCKET, [(c.source_key(i), body) for i in range(adopt_n)]
                       + [(c.output_key(f, i), body) for _, _, f in c.OUTPUTS_3 for i in range(adopt_n)])
        adopt_decl = Path(tmp) / "adopt.yaml"
        adopt_decl.write_text(c.declaration_yaml("adopt4"))
        with c.local_server(adopt_root) as srv:
            before = c.op_counts(srv)
            c.run_process([*c.cosrecon_argv(), "adopt", "--yes", str(adopt_decl),
                           *c.cli_env_args(srv.endpoint, Path(tmp) / "adopt-state")],
                          env=c.credentials_env(srv.secret_id, srv.secret_key))
            adopt_requests = c.diff_counts(c.op_counts(srv), before)
    figures = [
        c.figure(f"apply calls, {sources} sources x 7 outputs (2 pipelines)", "calls", [first],
                 f"minimum sum(ceil(7/5)) = {want_first}"),
        c.figure(f"apply calls, repair of {repair} deleted outputs", "calls", [repaired],
                 f"minimum = {want_repair}"),
        c.figure("apply calls, converged re-run", "calls", [rerun], "minimum = 0"),
        c.figure(f"adopt requests per 1,000 sources (3 outputs, {adopt_n} sources)", "req",
                 [c.total_calls(adopt_requests) * 1000 / adopt_n], json.dumps(adopt_requests)),
    ]
    targets = [c.target("apply calls == minimum (7 outputs)", first, "<=", want_first),
               c.target("apply calls == minimum (repair)", repaired, "<=", want_repair),
               c.target("converged re-run calls == 0", rerun, "<=", 0)]
    return {"figures": figures, "targets": targets, "details": {"adopt requests by operation": adopt_requests}}


def run_part6(sources: int = 600, reps: int = 3, max_qps: float = 100.0, workdir: Path | None = None
              ) -> dict[str, Any]:
    phase: list[float] = []
    window: list[float] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        env = _Env(Path(tmp), sources, (64, 48))
        decl = Path(tmp) / "rate.yaml"
        decl.write_text(c.declaration_yaml("rate6"))
        for _ in range(reps):
            root, state = env.fresh()
            with c.local_server(root, latency_ms=0, ci_qps=0) as srv:
                _, s = _apply(srv, decl, state, max_qps=max_qps, expect_calls=c.min_calls(sources, 3))
                phase.append(s.phase_rate())
                window.append(s.max_window_rate(1.0))
    figures = [c.figure(f"achieved rate under --max-qps {max_qps:g} ({sources} calls, 0 ms)", "calls/s", phase,
                        "server-observed, first call to last"),
               c.figure(f"busiest 1-second window under --max-qps {max_qps:g}", "calls/s", window,
                        "server-observed, 10 ms sampling")]
    targets = [c.target(f"achieved rate <= {max_qps:g}", max(phase), "<=", max_qps, "worst run"),
               c.target(f"achieved rate > {0.9 * max_qps:g}", min(phase), ">", 0.9 * max_qps, "worst run"),
               c.target(f"busiest 1 s window <= {max_qps:g}", max(window), "<=", max_qps, "worst run")]
    return {"figures": figures, "targets": targets, "setup": {"sources": sources, "reps": reps, "max_qps": max_qps}}
