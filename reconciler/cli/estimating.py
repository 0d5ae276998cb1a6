"""The plan estimate as the commands build it: the price table, the pace, and each call's source size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from reconciler.model import Call, Declaration, Plan
from reconciler.plan.estimate import Estimate, Pace, build_estimate
from reconciler.plan.prices import PriceBook


def source_size(call: Call) -> int | None:
    """A call's source size as the listing showed it (None when the plan does not know it)."""
    size = getattr(call, "source_size", None)
    return size if isinstance(size, int) and size >= 0 else None


def estimate_plan(plan: Plan, decls: Sequence[Declaration], book: PriceBook, *, max_qps: float, parallelism: int,
                  ratios: Mapping[tuple[str, str], float] | None = None) -> Estimate:
    return build_estimate(plan, decls, book, Pace(max_qps, parallelism), size_of=source_size, ratios=ratios)
