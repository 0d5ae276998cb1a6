"""PURE: what a plan will cost before it runs: calls, bytes, time, fees and blast radius, per set and in total.

Built from the plan's calls and actions, each call's source size (``SetPlan.source_sizes``, from the listing) and
a price table (``prices``); no I/O, no clock. Every figure is an
estimate and says what it rests on:

- Basic image processing is billed on the original image's size, once per rule that processes it (CI's billing
  page 460/58117: "按照图片原文件大小进行数据处理量计算"); a rule converting to TPG, HEIF or AVIF also counts one
  advanced compression; a ``ci-process=`` rule counts one AI processing; every call is one COS write request per
  output plus the call itself.
- Duration: calls / the pace, where the pace is the smallest of ``--max-qps``, CI's rate limit for the region, and
  ``--parallelism`` / the seconds per call of each kind of call (basic; advanced: TPG/HEIF/AVIF output; AI) as the
  set's last apply measured them (``SetPlan.rates``, from the ledger), else the table's ``assumptions``; also
  shown at CI's limit alone.
  Without ``--max-qps`` the pace is CI's limit, or ``HEADROOM_SHARE`` of it when the calls would take more than
  ``LONG_RUN`` seconds at the limit (``default_qps``): uploads with Pic-Operations share the same limit.
- Storage added: the outputs' expected size (sources' bytes x the output/source size ratio measured by a preview,
  else the table's heuristic ratio) for created outputs; replaced outputs add nothing (they take the old one's
  place). What deleted outputs free is not estimated (the plan does not know their sizes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from reconciler.errors import BudgetExceeded
from reconciler.model import ActionKind, Call, Declaration, Plan, PlanActions, SetPlan, Target
from reconciler.plan.prices import PriceBook, PriceTable

GB = 1024 ** 3
ADVANCED_FORMATS = ("format/tpg", "format/heif", "format/heic", "format/avif")
CHANGING = (ActionKind.CREATE, ActionKind.REPLACE, ActionKind.DELETE)


HEADROOM_SHARE = 0.6  # of CI's limit (60/s of 100/s), the default pace of a run expected to last over LONG_RUN
LONG_RUN = 3600.0  # seconds


@dataclass(frozen=True)
class Pace:
    """How fast apply will call: its ``--max-qps`` (None: not given, ``default_qps`` decides) and
    ``--parallelism``."""

    max_qps: float | None
    parallelism: int


def default_qps(calls: int, ci_limit: float) -> float:
    """The pace when ``--max-qps`` is not given: CI's limit, or ``HEADROOM_SHARE`` of it when ``calls`` at the limit
    would take more than ``LONG_RUN`` (an hour): production uploads with Pic-Operations draw on the same limit."""
    return ci_limit * HEADROOM_SHARE if ci_limit > 0 and calls / ci_limit > LONG_RUN else float(ci_limit)


def plan_limit(decls: Sequence[Declaration], book: PriceBook) -> int:
    """CI's rate limit that binds a plan over ``decls``: the lowest of their regions' (per account)."""
    return min((book.for_region(d.region).ci_rate_limit for d in decls), default=100)


@dataclass(frozen=True)
class Fee:
    item: str
    quantity: float | None  # in the item's unit: GB, thousands, ten-thousands, GB-months; None: sizes unknown
    amount: float | None  # None: the table has no price for it, or the quantity is unknown


@dataclass(frozen=True)
class Work:
    """What one set's calls process, counted from the plan (no prices)."""

    calls: int = 0
    outputs: Mapping[ActionKind, int] = field(default_factory=dict)
    source_bytes: int | None = 0  # None: a call's source size is unknown (a saved plan from an older version)
    basic_bytes: int | None = 0  # source bytes x the rules that process them
    advanced: int = 0  # rules converting to TPG / HEIF / AVIF
    ai: int = 0  # ci-process= rules
    ai_calls: int = 0  # calls with at least one AI rule (they pace at the AI speed)
    advanced_calls: int = 0  # calls with a TPG/HEIF/AVIF rule and no AI rule
    created_bytes: int | None = 0  # source bytes behind created outputs
    deleted: int = 0


@dataclass(frozen=True)
class BlastRadius:
    """Where a plan acts: prefixes per bucket, its largest group of replacements or deletions, source overwrites."""

    prefixes: Mapping[str, Mapping[str, int]]  # bucket -> top-level folder -> outputs touched
    largest_group: tuple[str, str, int] | None  # (address, action, count)
    overwrites_source: int  # outputs whose key is their own source's key


@dataclass(frozen=True)
class SetEstimate:
    name: str
    currency: str
    table: str  # the price table that applied (by the set's region)
    work: Work
    seconds: float | None  # at the configured pace; None when nothing is called
    seconds_at_ci_limit: float | None
    fees: tuple[Fee, ...]
    storage_added_bytes: int | None
    blast: BlastRadius
    measured: Mapping[str, float] = field(default_factory=dict)  # seconds per call the last apply measured, by kind

    @property
    def priced_total(self) -> float:
        return sum(f.amount for f in self.fees if f.amount is not None)


@dataclass(frozen=True)
class Estimate:
    """The estimate of a whole plan; ``sets`` in plan order."""

    sets: tuple[SetEstimate, ...]
    prices_source: str
    ratio_source: str  # "preview" or "heuristic"
    unpriced: tuple[str, ...]  # items with work but no price
    pace_qps: float = 0.0  # the pace the time assumes (``--max-qps``, or ``default_qps``)
    headroom: bool = False  # the pace was lowered by default to leave CI capacity to uploads (``default_qps``)
    ci_limit: int = 100  # CI's limit that binds the plan (``plan_limit``)

    @property
    def calls(self) -> int:
        return sum(s.work.calls for s in self.sets)

    @property
    def totals(self) -> dict[str, float]:
        """The priced fees of every set, by currency."""
        found: dict[str, float] = {}
        for s in self.sets:
            found[s.currency] = found.get(s.currency, 0.0) + s.priced_total
        return found

    @property
    def seconds(self) -> float:
        return sum(s.seconds or 0.0 for s in self.sets)

    @property
    def seconds_at_ci_limit(self) -> float:
        return sum(s.seconds_at_ci_limit or 0.0 for s in self.sets)

    @property
    def storage_added_bytes(self) -> int | None:
        values = [s.storage_added_bytes for s in self.sets]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def rule_kinds(rule: str) -> tuple[bool, bool]:
    """(is AI processing, converts to an advanced compression format) for one rule string."""
    ai = rule.startswith("ci-process=") or "|ci-process=" in rule
    advanced = any(f"{fmt}" in rule for fmt in ADVANCED_FORMATS)
    return ai, advanced


def call_kind(call: Call) -> str:
    """How fast a call runs, by its slowest rule: "ai" (a ci-process= rule), "advanced" (TPG/HEIF/AVIF output) or
    "basic". Apply measures each kind's seconds per call into the ledger (``Ledger.rates``); the estimate uses them."""
    kinds = [rule_kinds(op.rule) for op in call.rules]
    return "ai" if any(ai for ai, _ in kinds) else "advanced" if any(adv for _, adv in kinds) else "basic"


def _add(total: int | None, value: int | None) -> int | None:
    return None if total is None or value is None else total + value


@dataclass(frozen=True)
class _Rules:
    """What one tuple of targets (the rules of a call) counts, worked out once per distinct tuple."""

    ai: int
    advanced: int
    basic: int  # rules billed on the source's size
    created: int  # rules that create (storage added)

    @staticmethod
    def of(targets: Sequence[Target]) -> _Rules:
        kinds = [rule_kinds(t.rule) for t in targets]
        return _Rules(sum(ai for ai, _ in kinds), sum(adv for _, adv in kinds), sum(not ai for ai, _ in kinds),
                      sum(t.action is ActionKind.CREATE for t in targets))


def count_work(set_plan: SetPlan) -> Work:
    """Count what ``set_plan``'s calls process, with their sources' sizes as the plan knows them: an aggregate
    over the distinct tuples of targets (calls making the same outputs for the same reasons share one), each
    counted once, then weighted by its calls and their sources' bytes."""
    groups: dict[int, list[Any]] = {}  # id of a targets tuple -> [targets, calls, bytes, a size unknown]
    sizes = set_plan.source_sizes
    known = sizes is not None and len(sizes) == len(set_plan.calls)
    for call, size in zip(set_plan.calls, sizes if known and sizes is not None else repeat(-1)):
        group = groups.get(id(call.targets))
        if group is None:
            group = groups[id(call.targets)] = [call.targets, 0, 0, False]
        group[1] += 1
        if size >= 0:
            group[2] += size
        else:
            group[3] = True
    source_bytes: int | None = 0
    basic_bytes: int | None = 0
    created_bytes: int | None = 0
    advanced = ai = ai_calls = advanced_calls = 0
    for targets, calls, size_sum, unknown in groups.values():
        rules = _Rules.of(targets)
        total = None if unknown else size_sum
        source_bytes = _add(source_bytes, total)
        ai += rules.ai * calls
        advanced += rules.advanced * calls
        ai_calls += calls if rules.ai else 0
        advanced_calls += calls if rules.advanced and not rules.ai else 0
        basic_bytes = _add(basic_bytes, None if total is None else total * rules.basic) if rules.basic else basic_bytes
        created_bytes = _add(created_bytes, None if total is None else total * rules.created)
    outputs = {kind: set_plan.count(kind) for kind in (*CHANGING, ActionKind.UNCHANGED)}
    return Work(len(set_plan.calls), outputs, source_bytes, basic_bytes, advanced, ai, ai_calls, advanced_calls,
                created_bytes, outputs[ActionKind.DELETE])


def blast_radius(set_plan: SetPlan) -> BlastRadius:
    """Prefixes touched per bucket, the largest (address, action) group of replacements or deletions, and how many
    outputs overwrite their own source (read from the calls' targets and keys: no action is made per rule)."""
    prefixes: dict[str, Counter[str]] = {}
    groups: Counter[tuple[str, str]] = Counter()
    overwrites = 0
    actions = set_plan.actions
    if isinstance(actions, PlanActions):  # the planner's: the calls' rules, then the other actions
        for call in set_plan.calls:
            for target, key in zip(call.targets, call.keys):
                cut = key.find("/")
                prefixes.setdefault(target.bucket, Counter())[key[:cut + 1] if cut >= 0 else "(bucket root)"] += 1
                if target.action is not ActionKind.CREATE:
                    groups[(target.address, target.action.value)] += 1
                overwrites += key == call.key
    others = actions.others if isinstance(actions, PlanActions) else actions
    for action in others:
        if action.action not in CHANGING:
            continue
        top = action.key.split("/", 1)[0] + "/" if "/" in action.key else "(bucket root)"
        prefixes.setdefault(action.bucket, Counter())[top] += 1
        if action.action is not ActionKind.CREATE:
            groups[(action.address, action.action.value)] += 1
        overwrites += action.key == action.source and action.action is not ActionKind.DELETE
    largest = max(groups.items(), key=lambda item: (item[1], item[0]), default=None)
    return BlastRadius({b: dict(c) for b, c in sorted(prefixes.items())},
                       None if largest is None else (largest[0][0], largest[0][1], largest[1]), overwrites)


def speeds(prices: PriceTable, measured: Mapping[str, float]) -> dict[str, float]:
    """Seconds per call by kind: as the last apply measured them (``Ledger.rates``), else the table's assumptions
    (an advanced-format call assumed as fast as a basic one until measured)."""
    assumed = {"basic": prices.seconds_per_call["basic"], "advanced": prices.seconds_per_call["basic"],
               "ai": prices.seconds_per_call["ai"]}
    return {kind: measured.get(kind, seconds) for kind, seconds in assumed.items()}


def _seconds(work: Work, pace: Pace, prices: PriceTable, *, at_limit_only: bool = False,
             measured: Mapping[str, float] | None = None) -> float | None:
    if not work.calls:
        return None
    limit = float(prices.ci_rate_limit) if at_limit_only else min(pace.max_qps or prices.ci_rate_limit,
                                                                  prices.ci_rate_limit)
    speed_of = speeds(prices, measured or {})
    total = 0.0
    for calls, speed in ((work.calls - work.ai_calls - work.advanced_calls, speed_of["basic"]),
                         (work.advanced_calls, speed_of["advanced"]), (work.ai_calls, speed_of["ai"])):
        if not calls:
            continue
        rate = limit if at_limit_only else min(limit, max(pace.parallelism, 1) / speed if speed else limit)
        total += calls / rate
    return total


def _fee(prices: PriceTable, item: str, quantity: float | None) -> Fee:
    price = prices.prices[item].price
    return Fee(item, quantity, None if price is None or quantity is None else round(quantity * price, 6))


def price_work(work: Work, prices: PriceTable, ratio: float) -> tuple[tuple[Fee, ...], int | None]:
    """The fees of ``work`` by billing item, and the storage it adds (bytes; None when sizes are unknown)."""
    outputs_written = work.outputs.get(ActionKind.CREATE, 0) + work.outputs.get(ActionKind.REPLACE, 0)
    added = None if work.created_bytes is None else int(work.created_bytes * ratio)
    basic_rules = work.outputs.get(ActionKind.CREATE, 0) + work.outputs.get(ActionKind.REPLACE, 0) - work.ai
    fees = [
        _fee(prices, "basic_processing_per_gb", None if work.basic_bytes is None else work.basic_bytes / GB),
        _fee(prices, "advanced_compression_per_1000", work.advanced / 1000),
        _fee(prices, "ai_processing_per_1000", work.ai / 1000),
        _fee(prices, "cos_requests_per_10000", (work.calls + outputs_written + work.deleted) / 10000),
        _fee(prices, "storage_per_gb_month", None if added is None else added / GB),
    ]
    has_work = {"basic_processing_per_gb": basic_rules > 0, "storage_per_gb_month": work.created_bytes != 0}
    return tuple(f for f in fees if (f.quantity is None and has_work.get(f.item, False)) or f.quantity), added


def build_estimate(plan: Plan, decls: Sequence[Declaration], book: PriceBook, pace: Pace, *,
                   ratios: Mapping[tuple[str, str], float] | None = None) -> Estimate:
    """The estimate of ``plan`` (its sets in the order of ``decls``). ``ratios``: output/source size ratio per
    (set, output address) measured by a preview; the table's heuristic ratio stands for the others."""
    sets = []
    limit = plan_limit(decls, book)
    qps = pace.max_qps if pace.max_qps is not None else default_qps(plan.calls, limit)
    headroom = pace.max_qps is None and qps < limit
    pace = Pace(qps, pace.parallelism)
    unpriced: set[str] = set()  # items with work and no price (an unknown quantity is not a missing price)
    for set_plan, decl in zip(plan.sets, decls):
        prices = book.for_region(decl.region)
        work = count_work(set_plan)
        ratio = _ratio_for(set_plan, ratios, prices.output_size_ratio)
        fees, added = price_work(work, prices, ratio)
        unpriced |= {f.item for f in fees if prices.prices[f.item].price is None}
        sets.append(SetEstimate(set_plan.name, prices.currency, prices.table, work,
                                _seconds(work, pace, prices, measured=set_plan.rates),
                                _seconds(work, pace, prices, at_limit_only=True), fees, added, blast_radius(set_plan),
                                dict(set_plan.rates)))
    return Estimate(tuple(sets), book.tables[0].source, "preview" if ratios else "heuristic", tuple(sorted(unpriced)),
                    qps, headroom, limit)


def _ratio_for(set_plan: SetPlan, ratios: Mapping[tuple[str, str], float] | None, default: float) -> float:
    if not ratios:
        return default
    measured = [ratios[(set_plan.name, a)] for a in _addresses(set_plan.calls) if (set_plan.name, a) in ratios]
    return sum(measured) / len(measured) if measured else default


def _addresses(calls: Iterable[Call]) -> set[str]:
    return {t.address for targets in {id(c.targets): c.targets for c in calls}.values() for t in targets}


NO_PRICE = "no price in the table"
NO_SIZES = "source sizes unknown"


def unbounded(estimate: Estimate) -> list[tuple[str, str, tuple[str, ...]]]:
    """What the estimate cannot put a figure on: (item, why — ``NO_PRICE`` or ``NO_SIZES`` —, the sets concerned),
    for every item with work but no price in the table, and every item whose quantity is unknown."""
    found: dict[tuple[str, str], list[str]] = {}
    for s in estimate.sets:
        for f in s.fees:
            if f.quantity is None:
                found.setdefault((f.item, NO_SIZES), []).append(s.name)
            elif f.amount is None:
                found.setdefault((f.item, NO_PRICE), []).append(s.name)
    return [(item, why, tuple(names)) for (item, why), names in found.items()]


def _named(missing: list[tuple[str, str, tuple[str, ...]]]) -> str:
    return "; ".join(f"{item} ({why}; set{'s' if len(names) > 1 else ''} {', '.join(names)})"
                     for item, why, names in missing)


def check_cost(estimate: Estimate, max_cost: float, *, allow_unpriced: bool = False) -> str:
    """Refuse (``BudgetExceeded``) a plan whose estimated fees exceed ``max_cost``, fees in more than one currency,
    or — unless ``allow_unpriced`` — a plan with work the estimate cannot price (``unbounded``: each item named).
    Returns what was left unbounded (with ``allow_unpriced``; "" when nothing), for the caller to say."""
    missing = unbounded(estimate)
    if missing and not allow_unpriced:
        raise BudgetExceeded(f"--max-cost {max_cost:g} cannot bound every fee of this plan; not priced: "
                             f"{_named(missing)}. Give those prices with --prices FILE (a copy of the built-in "
                             "table with them filled in), or bound only the priced items with "
                             "--max-cost-unpriced allow")
    totals = estimate.totals
    if len(totals) > 1:
        raise BudgetExceeded(f"--max-cost {max_cost:g}: the fees are in several currencies ({', '.join(totals)})")
    for currency, amount in totals.items():
        if amount > max_cost:
            raise BudgetExceeded(f"the plan's estimated fees are {amount:,.4f} {currency}; --max-cost allows "
                                 f"{max_cost:g}")
    return _named(missing)
