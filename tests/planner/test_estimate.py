"""The plan estimate on plain values: fees equal a hand computation from a price table, time follows the pace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import builders
from reconciler.errors import BudgetExceeded, UsageError
from reconciler.model import ActionKind, Call, Plan, PlannedAction, Reason, RuleOp, SetPlan
from reconciler.plan.estimate import GB, Pace, build_estimate, check_cost, rule_kinds
from reconciler.plan.prices import load_prices

BUCKET = "shop-1250000000"


def price_file(tmp_path: Path, **overrides: float | None) -> Path:
    prices = {"basic_processing_per_gb": 0.5, "advanced_compression_per_1000": 2.0, "ai_processing_per_1000": 30.0,
              "cos_requests_per_10000": 0.1, "storage_per_gb_month": 0.2, **overrides}
    table = {"currency": "CNY", "regions": "ap-guangzhou", "ci_rate_limit_per_s": 100,
             "items": {k: {"price": v, "page": "https://example.invalid/p", "read": "2026-11-30"}
                       for k, v in prices.items()}}
    other = dict(table, currency="USD", regions="", ci_rate_limit_per_s=50)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"tables": {"mainland": table, "other": other},
                                "assumptions": {"seconds_per_call": {"basic": 0.5, "ai": 2.0},
                                                "output_size_ratio": 0.25}}))
    return path


def decl(region: str = "ap-guangzhou"):  # type: ignore[no-untyped-def]
    return builders.declaration("shop", bucket=BUCKET, region=region, pipeline="p", include=["a/*.jpg"],
                                outputs={"thumb": {"rule": "imageMogr2/thumbnail/100x", "fileid": "/t/{name}"}})


def op(address: str, rule: str, key: str) -> RuleOp:
    return RuleOp(address, rule, "/" + key, BUCKET, key, "fp-" + address)


def plan_of(calls: list[Call], extra: tuple[PlannedAction, ...] = (), sizes: dict[str, int] | None = None) -> Plan:
    """A plan of ``calls``; ``sizes``: source key -> bytes (None: the plan does not know them, as a saved plan)."""
    actions = tuple(a for c in calls for a in c.changes()) + extra
    source_sizes = None if sizes is None else [sizes[c.key] for c in calls]
    return Plan((SetPlan("shop", "d", "0", actions, tuple(calls), {"p.thumb": 7}, source_sizes=source_sizes),))


def calls() -> list[Call]:
    why = {(BUCKET, "t/2.jpg"): (ActionKind.REPLACE, Reason.RULE_CHANGED, "")}
    return [
        Call.of_rules(BUCKET, "a/1.jpg", "e1", [op("p.thumb", "imageMogr2/thumbnail/100x", "t/1.jpg"),
                                       op("p.avif", "imageMogr2/format/avif", "t/1.avif"),
                                       op("p.ai", "ci-process=AIImageColoring", "t/1.c.jpg")]),
        Call.of_rules(BUCKET, "a/2.jpg", "e2", [op("p.thumb", "imageMogr2/thumbnail/100x", "t/2.jpg")], why),
    ]


SIZES = {"a/1.jpg": 3 * GB // 4, "a/2.jpg": GB // 4}


def test_fees_equal_a_hand_computation(tmp_path: Path) -> None:
    book = load_prices(price_file(tmp_path))
    est = build_estimate(plan_of(calls(), sizes=SIZES), [decl()], book, Pace(100, 16))
    s = est.sets[0]
    fees = {f.item: (f.quantity, f.amount) for f in s.fees}
    # basic: every non-AI rule processes its source once: a/1 twice (thumb, avif), a/2 once
    basic_gb = (2 * SIZES["a/1.jpg"] + SIZES["a/2.jpg"]) / GB
    assert fees["basic_processing_per_gb"] == pytest.approx((basic_gb, basic_gb * 0.5))
    assert fees["advanced_compression_per_1000"] == pytest.approx((1 / 1000, 2.0 / 1000))
    assert fees["ai_processing_per_1000"] == pytest.approx((1 / 1000, 30.0 / 1000))
    # requests: 2 calls + 4 outputs written
    assert fees["cos_requests_per_10000"] == pytest.approx((6 / 10000, 0.1 * 6 / 10000))
    # storage: created outputs only (3 of a/1; the replace of a/2 takes the old one's place) x the ratio
    added = int(3 * SIZES["a/1.jpg"] * 0.25)
    assert s.storage_added_bytes == added
    assert fees["storage_per_gb_month"] == pytest.approx((added / GB, added / GB * 0.2))
    assert s.currency == "CNY" and s.table == "mainland"
    assert est.totals == {"CNY": pytest.approx(sum(a for _, a in fees.values()))}
    assert s.work.source_bytes == GB and s.work.outputs[ActionKind.CREATE] == 3


def test_time_follows_the_slowest_of_qps_ci_limit_and_parallelism(tmp_path: Path) -> None:
    book = load_prices(price_file(tmp_path))
    plan = plan_of(calls(), sizes={k: 0 for k in SIZES})  # 1 call with an AI rule (2 s each), 1 basic call (0.5 s each)
    fast = build_estimate(plan, [decl()], book, Pace(100, 16)).sets[0]
    assert fast.seconds == pytest.approx(1 / 8 + 1 / 32)  # parallelism / seconds per call: 8/s AI, 32/s basic
    slow = build_estimate(plan, [decl()], book, Pace(1, 16)).sets[0]
    assert slow.seconds == pytest.approx(2.0)  # --max-qps 1
    assert slow.seconds_at_ci_limit == pytest.approx(2 / 100)
    overseas = build_estimate(plan, [decl("na-ashburn")], book, Pace(1000, 256)).sets[0]
    assert overseas.currency == "USD" and overseas.seconds_at_ci_limit == pytest.approx(2 / 50)


def test_unknown_sizes_and_missing_prices_are_said_not_guessed(tmp_path: Path) -> None:
    book = load_prices(price_file(tmp_path, ai_processing_per_1000=None))
    est = build_estimate(plan_of(calls()), [decl()], book, Pace(100, 16))
    s = est.sets[0]
    assert s.work.source_bytes is None and s.storage_added_bytes is None
    assert "ai_processing_per_1000" in est.unpriced
    assert {f.item: f.amount for f in s.fees}["ai_processing_per_1000"] is None


def test_blast_radius_names_prefixes_largest_group_and_source_overwrites(tmp_path: Path) -> None:
    book = load_prices(price_file(tmp_path))
    overwrite = PlannedAction(ActionKind.REPLACE, "p.inplace", BUCKET, "a/1.jpg", "a/1.jpg", Reason.RULE_CHANGED)
    deletes = tuple(PlannedAction(ActionKind.DELETE, "p.old", BUCKET, f"old/{i}.jpg", f"a/{i}.jpg", Reason.NOT_DECLARED)
                    for i in range(3))
    est = build_estimate(plan_of(calls(), (overwrite, *deletes), {k: 1 for k in SIZES}), [decl()], book,
                         Pace(100, 16))
    blast = est.sets[0].blast
    assert blast.prefixes[BUCKET] == {"t/": 4, "a/": 1, "old/": 3}
    assert blast.largest_group == ("p.old", "delete", 3)
    assert blast.overwrites_source == 1


def test_rule_kinds() -> None:
    assert rule_kinds("ci-process=AISuperResolution&magnify=2") == (True, False)
    assert rule_kinds("imageMogr2/thumbnail/100x|imageMogr2/format/tpg") == (False, True)
    assert rule_kinds("imageMogr2/format/webp") == (False, False)


def test_a_malformed_price_file_is_a_located_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"tables": {"mainland": {"currency": "CNY"}}}')
    with pytest.raises(UsageError, match="bad.json: not a cosrecon price table"):
        load_prices(bad)
    negative = price_file(tmp_path, basic_processing_per_gb=-1)
    with pytest.raises(UsageError, match=r"tables\.mainland\.items\.basic_processing_per_gb\.price"):
        load_prices(negative)


def test_the_built_in_table_cites_a_page_and_date_for_every_price() -> None:
    book = load_prices(None)
    for table in book.tables:
        for price in table.prices.values():
            assert price.page.startswith("https://") and price.read
    assert book.for_region("ap-guangzhou").currency == "CNY"
    assert book.for_region("ap-shanghai-fsi").table == "finance"
    assert book.for_region("eu-frankfurt").table == "other"


def test_max_cost_refuses_above_the_fees_and_when_they_cannot_be_complete(tmp_path: Path) -> None:
    book = load_prices(price_file(tmp_path))
    est = build_estimate(plan_of(calls(), sizes=SIZES), [decl()], book, Pace(100, 16))
    fees = est.totals["CNY"]
    check_cost(est, fees * 1.01)
    with pytest.raises(BudgetExceeded, match="estimated fees are"):
        check_cost(est, fees * 0.99)
    # sizes unknown, every item priced: the refusal says sizes, not prices
    unknown = build_estimate(plan_of(calls()), [decl()], book, Pace(100, 16))
    assert unknown.unpriced == ()
    with pytest.raises(BudgetExceeded, match="source sizes are unknown"):
        check_cost(unknown, 1e9)
    unpriced = build_estimate(plan_of(calls(), sizes=SIZES), [decl()],
                              load_prices(price_file(tmp_path, cos_requests_per_10000=None)), Pace(100, 16))
    with pytest.raises(BudgetExceeded, match="no price for cos_requests_per_10000; give them with --prices FILE"):
        check_cost(unpriced, 1e9)
