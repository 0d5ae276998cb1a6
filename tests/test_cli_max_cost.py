"""`apply --max-cost` and the estimate's fees through the CLI, with a --prices file and the real sizes the local
server lists: the fees equal a hand computation from the table; a plan above the cost is refused (exit 1, no call
made); one under it applies; a plan with an unpriced item is refused, saying to give --prices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.local import LocalServer
from tests.test_cli_preview import DECLARATION, REGION, SRC, image

GB = 1024 ** 3
IMAGES = 12
PRICES = {"basic_processing_per_gb": 20000.0, "advanced_compression_per_1000": 2.0, "ai_processing_per_1000": 30.0,
          "cos_requests_per_10000": 50.0, "storage_per_gb_month": 7000.0}
RATIO = 0.5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC], ci_qps=0, seed=5).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def env(server: LocalServer) -> dict[str, str]:
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    for i in range(IMAGES):
        storage.put_object(SRC, *image(i))
    return {"COSRECON_ENDPOINT": server.endpoint, "TENCENTCLOUD_SECRET_ID": server.secret_id,
            "TENCENTCLOUD_SECRET_KEY": server.secret_key}


def files(tmp_path: Path) -> tuple[Path, Path]:
    decl = tmp_path / "decl" / "shop.yaml"
    decl.parent.mkdir()
    decl.write_text(DECLARATION.format(region=REGION, bucket=SRC, thumb="imageMogr2/thumbnail/30x/format/webp"),
                    encoding="utf-8")
    table = {"currency": "CNY", "regions": REGION, "ci_rate_limit_per_s": 100,
             "items": {k: {"price": v, "page": "https://example.invalid/p", "read": "2026-11-30"}
                       for k, v in PRICES.items()}}
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"tables": {"mainland": table, "other": dict(table, regions="")},
                                  "assumptions": {"seconds_per_call": {"basic": 0.3, "ai": 2.0},
                                                  "output_size_ratio": RATIO}}), encoding="utf-8")
    return decl, prices


def cosrecon(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def hand_computed(server: LocalServer) -> float:
    """Every source is processed by two basic rules (thumb, png), both outputs created: N calls + 2N writes."""
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    total = sum(o.size for o in storage.list_objects(SRC))
    basic = 2 * total / GB * PRICES["basic_processing_per_gb"]
    requests = (IMAGES + 2 * IMAGES) / 10000 * PRICES["cos_requests_per_10000"]
    storage_added = int(2 * total * RATIO) / GB * PRICES["storage_per_gb_month"]
    return basic + requests + storage_added


def test_the_estimate_equals_a_hand_computation_and_max_cost_gates_apply(env: dict[str, str], server: LocalServer,
                                                                         tmp_path: Path) -> None:
    decl, prices = files(tmp_path)
    state = str(tmp_path / "state")
    planned = cosrecon(env, "plan", "--state-dir", state, "--format", "json", "--prices", str(prices), str(decl))
    assert planned.exit_code == 0, planned.output
    expected = hand_computed(server)
    assert json.loads(planned.stdout)["estimate"]["priced_totals"] == {"CNY": pytest.approx(expected, abs=1e-5)}

    before = server.stats()
    refused = cosrecon(env, "apply", "--yes", "--state-dir", state, "--prices", str(prices),
                       "--max-cost", f"{expected * 0.99:.6f}", str(decl))
    assert refused.exit_code == 1, refused.output
    assert "--max-cost allows" in refused.output and "estimated fees are" in refused.output
    after = server.stats()
    assert all(after.get(op, 0) == before.get(op, 0) for op in ("image_process", "put_object", "delete_object"))

    applied = cosrecon(env, "apply", "--yes", "--state-dir", state, "--prices", str(prices),
                       "--max-cost", f"{expected * 1.01:.6f}", str(decl))
    assert applied.exit_code == 0, applied.output
    assert server.stats().get("image_process", 0) - after.get("image_process", 0) == IMAGES


def test_an_unpriced_item_with_work_is_refused_naming_prices(env: dict[str, str], server: LocalServer,
                                                             tmp_path: Path) -> None:
    decl, _ = files(tmp_path)
    before = server.stats()
    # the built-in table has no price for COS requests, which every call makes
    refused = cosrecon(env, "apply", "--yes", "--state-dir", str(tmp_path / "state"), "--max-cost", "1000000",
                       str(decl))
    assert refused.exit_code == 1, refused.output
    assert "no price for" in refused.output and "--prices FILE" in refused.output
    assert server.stats().get("image_process", 0) == before.get("image_process", 0)


def test_a_saved_plan_is_priced_with_the_sizes_of_the_fresh_listing(env: dict[str, str], server: LocalServer,
                                                                    tmp_path: Path) -> None:
    decl, prices = files(tmp_path)
    state, saved = str(tmp_path / "state"), str(tmp_path / "reviewed.plan")
    planned = cosrecon(env, "plan", "--state-dir", state, "--out", saved, str(decl))
    assert planned.exit_code in (0, 2), planned.output
    expected = hand_computed(server)
    before = server.stats()
    refused = cosrecon(env, "apply", "--plan", saved, "--state-dir", state, "--prices", str(prices),
                       "--max-cost", f"{expected * 0.99:.6f}", str(decl))
    assert refused.exit_code == 1, refused.output
    assert "estimated fees are" in refused.output  # priced in full: not "source sizes are unknown"
    assert server.stats().get("image_process", 0) == before.get("image_process", 0)
    applied = cosrecon(env, "apply", "--plan", saved, "--state-dir", state, "--prices", str(prices),
                       "--max-cost", f"{expected * 1.01:.6f}", str(decl))
    assert applied.exit_code == 0, applied.output
    assert server.stats().get("image_process", 0) - before.get("image_process", 0) == IMAGES
