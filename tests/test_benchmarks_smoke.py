"""Tiny-size runs of the benchmarks (parts 1, 3, 4, 6): correctness only, never timings.

Each benchmark checks its own results as it runs (a plan's counts, calls equal to the minimum, converged runs
making no calls) and raises ``BenchError`` otherwise; these tests run them small and assert the figures they
report. Helpers are checked against the product's own fileid semantics.
"""

from __future__ import annotations

import gc
import math
from pathlib import Path

import pytest

from benchmarks import common as c
from benchmarks.__main__ import _normalise
from benchmarks.bench_plan import parse_summary
from reconciler.declare.templates import source_variables
from reconciler.model import resolve_fileid


def _fig(body: dict, prefix: str) -> dict:
    return next(f for f in body["figures"] if f["name"].startswith(prefix))


def test_synthetic_output_keys_follow_the_products_fileid_semantics() -> None:
    for i in (0, 7, 1234, 99_999):
        key = c.source_key(i)
        variables = source_variables(key, "src/")
        for _, _, fileid in c.OUTPUTS_3:
            assert c.output_key(fileid, i) == resolve_fileid(key, fileid.format(**variables))


def test_plan_summary_parsing() -> None:
    text = "Plan: 12 to create, 3 to replace, 0 to delete, 4 conflicts, 980 unchanged; 9 image_process calls."
    assert parse_summary(text) == {"create": 12, "replace": 3, "delete": 0, "conflict": 4, "unchanged": 980,
                                   "calls": 9}
    assert parse_summary("No changes. Outputs match the declarations.")["calls"] == 0
    with pytest.raises(c.BenchError):
        parse_summary("something else")


def test_figures_ratios_targets_and_table() -> None:
    fig = c.figure("f", "s", [3.0, 1.0, 2.0])
    assert (fig["median"], fig["min"], fig["max"], fig["runs"]) == (2.0, 1.0, 3.0, 3)
    assert c.ratio_figure("r", [2.0, 6.0], [1.0, 2.0])["values"] == [2.0, 3.0]
    assert c.target("t", 1.1, "<=", 1.2)["met"] and not c.target("t", 1.3, "<=", 1.2)["met"]
    assert c.min_calls(10, 7) == 20 and c.min_calls(10, 3) == 10
    results = {"parts": {"p": {"figures": [fig], "targets": [c.target("t", 1.0, ">", 2.0)], "skipped": ["why"]}}}
    assert "f" in c.render_table(results) and "| p | f |" in c.render_table(results, markdown=True)
    assert "MISSED" in c.render_targets(results) and "not measured" in c.render_targets(results)
    ext = _normalise({"pages_per_s": 12.5, "puts": {"median": 3.0, "min": 2.0, "max": 4.0, "unit": "/s"}})
    assert [(f["name"], f["median"]) for f in ext["figures"]] == [("pages_per_s", 12.5), ("puts", 3.0)]


def test_part1_plan_first_and_converged(tmp_path: Path) -> None:
    body = c_run_plan(tmp_path)
    assert _fig(body, "cosrecon adopt wall")["runs"] == 1
    assert body["targets"] and all(math.isfinite(t["value"]) for t in body["targets"])
    reqs = _fig(body, "plan requests per 1,000 sources (300 sources, first run)")
    assert reqs["median"] > 0


def c_run_plan(tmp_path: Path) -> dict:
    from benchmarks import bench_plan

    return bench_plan.run(sizes=(300,), reps=1, workdir=tmp_path)


def test_part1_replicated_converged_ledger_is_converged(tmp_path: Path) -> None:
    from benchmarks import bench_plan

    body = bench_plan.run(sizes=(50,), reps=1, workdir=tmp_path, converged="replicate")
    assert _fig(body, "plan requests per 1,000 sources (50 sources, converged)")["median"] > 0


def test_part3_apply_and_loops_make_the_minimum_calls(tmp_path: Path) -> None:
    from benchmarks import bench_apply

    body = bench_apply.run_part3(sources=12, reps=1, latency_ms=5, workdir=tmp_path)
    assert _fig(body, "converged re-run: cosrecon image_process calls")["max"] == 0
    assert _fig(body, "sequential loop wall")["runs"] == 1


def test_part4_calls_equal_the_minimum(tmp_path: Path) -> None:
    from benchmarks import bench_apply

    body = bench_apply.run_part4(sources=6, repair=2, workdir=tmp_path)
    assert [f["median"] for f in body["figures"][:3]] == [12, 2, 0]
    assert all(t["met"] for t in body["targets"])


def test_part6_rate_control_makes_the_minimum_calls(tmp_path: Path) -> None:
    from benchmarks import bench_apply

    body = bench_apply.run_part6(sources=20, reps=1, workdir=tmp_path)
    assert _fig(body, "achieved rate")["median"] > 0


@pytest.mark.parametrize("scenario", ["first", "converged"])
def test_part2_planning_children_plan_correctly(tmp_path: Path, scenario: str) -> None:
    from benchmarks import bench_planner

    if scenario == "converged":
        bench_planner.write_ledger(tmp_path / "bench" / "ledger.jsonl", 300)
    try:
        result = bench_planner.child(scenario, 300, str(tmp_path))
    finally:
        gc.enable()  # the child pauses it, as a plan does
    assert result["ok"] and result["outputs"] == 900 and result["peak_rss_mb"] > 0


def test_part2_remake_child_records_and_writes_the_next_ledger(tmp_path: Path) -> None:
    from benchmarks import bench_planner
    from reconciler.state.ledger_file import parse_ledger

    bench_planner.write_ledger(tmp_path / "bench" / "ledger.jsonl", 300)
    before = parse_ledger((tmp_path / "bench" / "ledger.jsonl").read_bytes())
    try:
        result = bench_planner.remake_child(300, str(tmp_path))
    finally:
        gc.enable()
    after = parse_ledger((tmp_path / "bench" / "ledger.jsonl").read_bytes())
    assert result["ok"] and result["remade"] == 300 and after.generation == "2" and len(after.entries) == 900
    changed = [w for w, e in after.entries.items() if e.output_etag != before.entries[w].output_etag]
    assert len(changed) == 300 and all(key.startswith("thumbs/") for _, key in changed)


def test_part2_saved_plan_children_save_and_load(tmp_path: Path) -> None:
    from benchmarks import bench_planner

    try:
        saved = bench_planner.saved_plan_child("save", 300, str(tmp_path))
        loaded = bench_planner.saved_plan_child("load", 300, str(tmp_path))
    finally:
        gc.enable()
    assert saved["ok"] and saved["mb"] > 0 and loaded["ok"] and loaded["peak_rss_mb"] > 0


def test_columnar_benchmark_children_at_a_tiny_size() -> None:
    """Part 9's children check their own plans (counts) and raise on a wrong one; here at 300 sources."""
    from benchmarks import bench_columnar

    for scenario in ("first", "converged"):
        for planner in ("python", "columnar"):
            assert bench_columnar.path_child(scenario, 300, planner)["ok"]
        assert bench_columnar.engine_child(scenario, 300, "256MiB")["ok"]


def test_part10_parallel_listing_lists_every_key() -> None:
    from benchmarks import bench_listing

    body = bench_listing.run(keys=2500, folders=5, reps=1)  # raises BenchError when a listing misses a key
    assert _fig(body, "parallel / one-stream SDK")["median"] > 0
