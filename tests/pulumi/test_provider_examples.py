"""The provider on a shipped example, as a dev stack runs it: the embedded server (``cosrecon:localRoot``) and the
ledger in a local folder (``cosrecon:stateDir``), inputs built by the program's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.pulumi.conftest import PROGRAM_DIR

from reconciler import local
from reconciler.pulumi import engine
from reconciler.pulumi.provider import ProcessingSetProvider
EXAMPLES = PROGRAM_DIR.parent / "examples"


def test_the_shop_example_applies_and_converges_on_the_embedded_server(tmp_path: Path, monkeypatch) -> None:
    if not (EXAMPLES / "shop.yaml").exists() or not (EXAMPLES / "images" / "shop").is_dir():
        pytest.skip("examples/shop.yaml and examples/images/shop are not there")
    for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    root, state = tmp_path / "local", tmp_path / "state"
    local.import_tree(root, EXAMPLES / "images" / "shop", "shop-1250000000")
    source = engine.read_source(EXAMPLES / "shop.yaml", EXAMPLES.parent)
    props = {"declaration": source.document, "source_path": source.path, "source_text": source.text,
             "connection": engine.Connection(local_root=str(root), state_dir=str(state)).to_inputs()}
    assert source.path == "examples/shop.yaml" and source.name == "shop"

    provider = ProcessingSetProvider()
    assert provider.check({}, props).failures == []
    before = provider.diff("", {}, props)
    assert before.by_output == {"banners.webp": {"create": 1}, "products.thumb-200": {"create": 3},
                                "products.thumb-400": {"create": 3}, "products.webp": {"create": 3}}
    created = provider.create(props)
    assert created.outs["summary"]["create"] == 10
    assert created.outs["calls"] == 4  # three products (3 outputs each, one call) and one banner
    assert (state / "shop").is_dir()  # the ledger went to stateDir, not to the bucket
    assert provider.diff(created.id, created.outs, props).changes is False
