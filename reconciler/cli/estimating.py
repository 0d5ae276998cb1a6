"""The plan estimate as the commands build it: the price table and the pace (each call's source size is on the plan,
``SetPlan.source_sizes``, as the listing showed it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from reconciler.cli.options import Options
from reconciler.model import Declaration, Plan
from reconciler.plan.estimate import Estimate, Pace, build_estimate, check_cost, default_qps, plan_limit
from reconciler.plan.prices import PriceBook


def chosen_pace(plan: Plan, decls: Sequence[Declaration], book: PriceBook) -> float:
    """``apply`` without ``--max-qps``: the pace ``plan.estimate.default_qps`` gives this plan."""
    return default_qps(plan.calls, plan_limit(decls, book))


def estimate_plan(plan: Plan, decls: Sequence[Declaration], book: PriceBook, *, max_qps: float | None,
                  parallelism: int,
                  ratios: Mapping[tuple[str, str], float] | None = None) -> Estimate:
    return build_estimate(plan, decls, book, Pace(max_qps, parallelism), ratios=ratios)


def cost_check(book: PriceBook, opts: Options) -> Callable[[Plan, Sequence[Declaration]], None]:
    """``--max-cost`` (apply, upload): a check that refuses (``BudgetExceeded``) a plan whose estimate exceeds it or
    cannot be complete (``plan.estimate.check_cost``); accepts every plan without ``--max-cost``."""
    max_cost = opts.max_cost

    def check(plan: Plan, decls: Sequence[Declaration]) -> None:
        if max_cost is not None:
            check_cost(estimate_plan(plan, decls, book, max_qps=opts.max_qps, parallelism=opts.parallelism),
                       max_cost)

    return check
