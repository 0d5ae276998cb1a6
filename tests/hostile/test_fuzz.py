"""A small run of ``benchmarks.fuzz_hostile`` (the long one: ``python -m benchmarks.fuzz_hostile``): mutated
declarations through ``cosrecon validate`` (and, when valid, planned against hostile keys and rendered), mutated
saved plans loaded and rendered: no traceback, no "internal error", no case over 2 s."""

from __future__ import annotations

from benchmarks.fuzz_hostile import LIMIT, fuzz_declarations, fuzz_plans


def test_fuzzed_declarations() -> None:
    report = fuzz_declarations(80, seed=7)
    assert report.cases == 80 and report.valid > 0
    assert report.failures == []
    assert report.max_seconds <= LIMIT


def test_fuzzed_plans() -> None:
    report = fuzz_plans(40, seed=7)
    assert report.cases == 40 and report.valid > 0
    assert report.failures == []
    assert report.max_seconds <= LIMIT
