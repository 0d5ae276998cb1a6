"""`cosrecon preview` and the plan estimate end to end: click's runner, the real SDK, the embedded local server.

A rule change on a set of 200 images: the gallery's "after" images have what the rule asks for, its "before"
images are the standing outputs, nothing is written to any bucket, and the processing requests equal the samples.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.local import LocalServer

SRC = "shop-1250000000"
REGION = "ap-guangzhou"
IMAGES = 200
DECLARATION = """\
version: 1
name: shop
region: {region}
bucket: {bucket}
pipelines:
  products:
    source:
      include: ["products/**/*"]
    outputs:
      thumb:
        rule: {thumb}
        fileid: /thumbs/{{reldir}}/{{stem}}.webp
      png:
        rule: imageMogr2/thumbnail/40x/format/png
        fileid: /png/{{reldir}}/{{stem}}.png
"""


def image(i: int) -> tuple[str, bytes]:
    """Sizes and formats vary: every 5th image is a PNG, widths 60..258 px."""
    fmt = "PNG" if i % 5 == 0 else "JPEG"
    buf = io.BytesIO()
    Image.new("RGB", (60 + i, 40 + i // 2), (i % 256, 80, 160)).save(buf, fmt)
    return f"products/{i % 7}/img{i:03d}.{'png' if fmt == 'PNG' else 'jpg'}", buf.getvalue()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC], ci_qps=0, seed=3).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def env(server: LocalServer, tmp_path: Path) -> dict[str, str]:
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    for i in range(IMAGES):
        storage.put_object(SRC, *image(i))
    return {"COSRECON_ENDPOINT": server.endpoint, "TENCENTCLOUD_SECRET_ID": server.secret_id,
            "TENCENTCLOUD_SECRET_KEY": server.secret_key}


def write(tmp_path: Path, thumb: str) -> Path:
    path = tmp_path / "decl" / "shop.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(DECLARATION.format(region=REGION, bucket=SRC, thumb=thumb), encoding="utf-8")
    return path


def cosrecon(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def sizes(server: LocalServer) -> dict[str, int]:
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    return {o.key: o.size for o in storage.list_objects(SRC)}


def snapshot(server: LocalServer) -> dict[str, str]:
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    return {o.key: o.etag for o in storage.list_objects(SRC)}


def test_preview_of_a_rule_change_writes_nothing_and_shows_before_and_after(env: dict[str, str], server: LocalServer,
                                                                          tmp_path: Path) -> None:
    applied = cosrecon(env, "apply", "--yes", "--state-dir", str(tmp_path / "state"),
                       str(write(tmp_path, "imageMogr2/thumbnail/50x/format/webp")))
    assert applied.exit_code == 0, applied.output
    decl = write(tmp_path, "imageMogr2/thumbnail/30x/format/webp")
    before_listing, before_stats = snapshot(server), server.stats()
    out = tmp_path / "preview"
    result = cosrecon(env, "preview", "--state-dir", str(tmp_path / "state"), "--sample", "3", "--out", str(out),
                      str(decl))
    assert result.exit_code == 0, result.output
    stats = server.stats()
    delta = {k: stats.get(k, 0) - before_stats.get(k, 0) for k in stats}
    assert delta.get("ci_get_object", 0) == 3  # one processing request per sample, nothing else processed
    assert delta.get("image_process", 0) == 0 and delta.get("put_object", 0) == 0
    assert delta.get("get_object", 0) == 3  # the "before" of each replaced sample
    assert snapshot(server) == before_listing  # nothing written to the bucket
    pictures = sorted((out / "shop" / "products.thumb").iterdir())
    assert [p.name for p in pictures] == ["1-after.webp", "1-before.webp", "2-after.webp", "2-before.webp",
                                          "3-after.webp", "3-before.webp"]
    for p in pictures:
        with Image.open(p) as img:
            assert img.format == "WEBP"
            assert img.width == (30 if "after" in p.name else 50)
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    standing = {storage.get_object(SRC, k) for k in before_listing if k.startswith("thumbs/")}
    assert all(p.read_bytes() in standing for p in pictures if "before" in p.name)
    gallery = (out / "index.html").read_text(encoding="utf-8")
    assert gallery.count('<img src="shop/products.thumb/') == 6 and "http" not in gallery.split("<body>")[1]
    table = (out / "preview.md").read_text(encoding="utf-8")
    assert "| shop | products.thumb (replace) |" in table and "30x" in table
    assert "<img" not in table and "30x" in result.stdout


def test_samples_are_deterministic_and_include_the_largest(env: dict[str, str], server: LocalServer,
                                                           tmp_path: Path) -> None:
    decl = write(tmp_path, "imageMogr2/thumbnail/30x/format/webp")
    listed = sizes(server)
    largest = min(listed, key=lambda k: (-listed[k], k))  # ties: the first key
    one = cosrecon(env, "preview", "--state-dir", str(tmp_path / "state"), "--sample", "1", "--out",
                   str(tmp_path / "one"), str(decl))
    assert one.exit_code == 0, one.output
    table = (tmp_path / "one" / "preview.md").read_text(encoding="utf-8")
    assert [line.split("`")[1] for line in table.splitlines() if "| products.thumb (create) |" in line] == [largest]
    runs = []
    for n in (1, 2):
        out = tmp_path / f"p{n}"
        result = cosrecon(env, "preview", "--state-dir", str(tmp_path / "state"), "--sample", "4", "--out", str(out),
                          str(decl))
        assert result.exit_code == 0, result.output
        runs.append((out / "preview.md").read_text(encoding="utf-8"))
    assert runs[0] == runs[1].replace("p2", "p1")
    sources = [line.split("`")[1] for line in runs[0].splitlines() if "| products.thumb (create) |" in line]
    assert len(sources) == 4 and any(s.endswith(".png") for s in sources) and any(s.endswith(".jpg") for s in sources)
    assert sources[0] == largest


def test_plan_json_carries_an_estimate_that_validates(env: dict[str, str], server: LocalServer,
                                                      tmp_path: Path) -> None:
    import jsonschema

    decl = write(tmp_path, "imageMogr2/thumbnail/30x/format/webp")
    result = cosrecon(env, "plan", "--state-dir", str(tmp_path / "state"), "--format", "json", "--max-qps", "50",
                      str(decl))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    schema = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    estimate = data["estimate"]
    assert estimate["calls"] == IMAGES and estimate["seconds"] == pytest.approx(IMAGES / 50, rel=0.01)
    assert estimate["sets"][0]["blast_radius"]["prefixes"][SRC] == {"thumbs/": IMAGES, "png/": IMAGES}
    # the listing's sizes: every source is processed once per call, and both outputs are created
    total = sum(sizes(server).values())
    assert estimate["sets"][0]["source_bytes"] == total
    assert estimate["storage_added_bytes"] == int(2 * total * 0.3)
