"""The plan estimate as the commands build it: the price table and the pace (each call's source size is on the plan,
``SetPlan.source_sizes``, as the listing showed it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from reconciler.model import Declaration, Plan
from reconciler.plan.estimate import Estimate, Pace, build_estimate, check_cost
from reconciler.plan.prices import PriceBook


def estimate_plan(plan: Plan, decls: Sequence[Declaration], book: PriceBook, *, max_qps: float, parallelism: int,
                  ratios: Mapping[tuple[str, str], float] | None = None) -> Estimate:
    return build_estimate(plan, decls, book, Pace(max_qps, parallelism), ratios=ratios)


def cost_check(book: PriceBook, max_cost: float | None, *, max_qps: float, parallelism: int,
               allow_unpriced: bool = False,
               warn: Callable[[str], None] = lambda _: None) -> Callable[[Plan, Sequence[Declaration]], None]:
    """``apply --max-cost``: a check that refuses (``BudgetExceeded``) a plan whose estimate exceeds ``max_cost``
    or cannot be complete (``plan.estimate.check_cost``) — with ``allow_unpriced`` (``--max-cost-unpriced allow``)
    it bounds the priced items and ``warn``s naming the others; accepts every plan when ``max_cost`` is None."""
    def check(plan: Plan, decls: Sequence[Declaration]) -> None:
        if max_cost is not None:
            estimate = estimate_plan(plan, decls, book, max_qps=max_qps, parallelism=parallelism)
            left = check_cost(estimate, max_cost, allow_unpriced=allow_unpriced)
            if left:
                warn(f"--max-cost {max_cost:g} bounds the priced fees only; not bounded: {left}")

    return check
