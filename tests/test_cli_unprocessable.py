"""Issue 26 point 2: sources that cannot be processed. At plan time, sources likely not images are warned about,
located at the pipeline's ``source.include``: by extension and 0-byte size from the listing, and with
``--check-sources`` by their first bytes (a ``.png`` that is text)."""

from __future__ import annotations

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
      include: ["products/**"]
    outputs:
      thumb:
        rule: imageMogr2/thumbnail/32x/format/webp
        fileid: /thumbs/{reldir}/{stem}.webp
      small:
        rule: imageMogr2/thumbnail/16x/format/png
        fileid: /small/{reldir}/{stem}.png
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC], ci_qps=0).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def env(server: LocalServer) -> dict[str, str]:
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage("ap-guangzhou")
    storage.put_object(SRC, "products/a.jpg", jpeg())
    storage.put_object(SRC, "products/fake.png", b"this is not a PNG, it is text\n")
    storage.put_object(SRC, "products/empty.jpg", b"")
    storage.put_object(SRC, "products/readme.txt", b"notes")
    return {"COSRECON_ENDPOINT": server.endpoint, "TENCENTCLOUD_SECRET_ID": server.secret_id,
            "TENCENTCLOUD_SECRET_KEY": server.secret_key}


def cosrecon(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_plan_warns_about_sources_likely_not_images(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(DECLARATION, encoding="utf-8")
    state = str(tmp_path / "state")
    result = cosrecon(env, "plan", "--state-dir", state, str(path))
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.output.splitlines() if "likely not an image" in line)
    assert warning.startswith(f"{path}:8:16: $.pipelines.products.source.include: warning: 2 sources likely not an "
                              "image: products/empty.jpg (0 bytes), products/readme.txt (extension .txt)")
    assert "fake.png" not in warning and "a.jpg (" not in warning  # without --check-sources the bytes are not read
    checked = cosrecon(env, "plan", "--state-dir", state, "--check-sources", str(path))
    warning = next(line for line in checked.output.splitlines() if "likely not an image" in line)
    assert "3 sources likely not an image" in warning and "products/fake.png (first bytes: no image format)" in warning
    assert "products/a.jpg (" not in warning
    assert "exclude it with source.exclude" in warning


def test_a_source_refused_as_not_an_image_is_skipped_until_it_changes(env: dict[str, str], server: LocalServer,
                                                                      tmp_path: Path) -> None:
    """CI refuses products/fake.png and products/empty.jpg (-62999): one call each, not split rule by rule; the
    message names the source; the ledger records them with their ETags, so the next plan shows them once under
    "skipped: not an image" and makes no call, --detailed-exitcode is 0; a fixed file is planned again."""
    path = tmp_path / "shop.yaml"
    path.write_text(DECLARATION.replace('["products/**"]', '["products/**/*.jpg", "products/**/*.png"]'),
                    encoding="utf-8")
    state = str(tmp_path / "state")
    before = server.stats().get("image_process", 0)
    applied = cosrecon(env, "apply", "--yes", "--state-dir", state, str(path))
    assert applied.exit_code == 1, applied.output
    assert server.stats().get("image_process", 0) - before == 3  # a.jpg, fake.png, empty.jpg: no split retries
    assert "the source products/fake.png is not an image" in applied.output
    assert "fix the rule" not in applied.output
    assert "whose source is not an image Cloud Infinite can process" in applied.output
    again = cosrecon(env, "plan", "--state-dir", state, "--detailed-exitcode", str(path))
    assert again.exit_code == 0, again.output  # only such skips remain
    assert again.output.count("products/fake.png") == 1
    assert ("skipped: not an image (fix or exclude it): 2 sources Cloud Infinite refused (products/empty.jpg, "
            "products/fake.png)") in again.output
    before = server.stats().get("image_process", 0)
    assert cosrecon(env, "apply", "--yes", "--state-dir", state, str(path)).exit_code == 0
    assert server.stats().get("image_process", 0) == before  # not retried
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage("ap-guangzhou")
    storage.put_object(SRC, "products/fake.png", jpeg())  # fixed: a new ETag
    fixed = cosrecon(env, "plan", "--state-dir", state, "--detailed-exitcode", str(path))
    assert fixed.exit_code == 2 and "Plan: 2 to create" in fixed.output and "1 source Cloud Infinite" in fixed.output
    assert cosrecon(env, "apply", "--yes", "--state-dir", state, str(path)).exit_code == 0
    done = cosrecon(env, "plan", "--state-dir", state, "--detailed-exitcode", str(path))
    assert done.exit_code == 0 and "products/fake.png" not in done.output
