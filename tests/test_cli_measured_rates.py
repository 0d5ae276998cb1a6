"""Issue 26 point 9: the estimate's time per call comes from what apply measured, by kind of call (AVIF output is
slower than a thumbnail), recorded in the ledger header and used by the next plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.local import LocalServer
from reconciler.ops.compose import Backend
from tests.apply.conftest import jpeg

SRC = "shop-1250000000"
DECLARATION = """\
version: 1
name: shop
region: ap-guangzhou
bucket: shop-1250000000
pipelines:
  products:
    source:
      include: ["products/*.jpg"]
    outputs:
      avif:
        rule: imageMogr2/thumbnail/32x/format/avif
        fileid: /avif/{stem}.avif
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC], ci_qps=0, advanced_compression=True).start()  # AVIF
    try:
        yield srv
    finally:
        srv.stop()


def cosrecon(server: LocalServer, *args: str) -> Result:
    env = {"COSRECON_ENDPOINT": server.endpoint, "TENCENTCLOUD_SECRET_ID": server.secret_id,
           "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_apply_measures_seconds_per_call_and_the_next_estimate_uses_them(server: LocalServer, tmp_path: Path) -> None:
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage("ap-guangzhou")
    for i in range(4):
        storage.put_object(SRC, f"products/p{i}.jpg", jpeg())
    path = tmp_path / "shop.yaml"
    path.write_text(DECLARATION, encoding="utf-8")
    state = tmp_path / "state"
    first = cosrecon(server, "plan", "--state-dir", str(state), str(path))
    assert "seconds a call assumed by the price table" in first.output
    server.set_faults(latency_ms=400)  # each processing call takes >= 0.4 s
    assert cosrecon(server, "apply", "--yes", "--state-dir", str(state), str(path)).exit_code == 0
    header = json.loads((state / "shop" / "ledger.jsonl").read_text(encoding="utf-8").split("\n", 1)[0])
    assert set(header["rates"]) == {"advanced"} and header["rates"]["advanced"] >= 0.4
    for i in range(4, 14):
        storage.put_object(SRC, f"products/p{i}.jpg", jpeg())
    planned = cosrecon(server, "plan", "--state-dir", str(state), "--parallelism", "1", "--format", "json", str(path))
    estimate = json.loads(planned.stdout)["estimate"]
    assert estimate["calls"] == 10 and estimate["seconds"] >= 10 * 0.4  # 10 calls, one at a time, >= 0.4 s each
    text = cosrecon(server, "plan", "--state-dir", str(state), str(path)).output
    assert "seconds a call, measured by the last apply: advanced 0." in text
