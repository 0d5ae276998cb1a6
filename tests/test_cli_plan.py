"""`cosrecon plan` end to end: click's runner, the real SDK, the embedded local server, every output format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.declare.load import load_declaration
from reconciler.local import LocalServer
from reconciler.model import Ledger, LedgerEntry
from reconciler.plan.planfile import load_plan, plan_from_data
from reconciler.declare.rules import fingerprint
from reconciler.state.store import LedgerStore

SRC = "shop-1250000000"
CDN = "cdn-1250000000"
REGION = "ap-guangzhou"
ROOT = Path(__file__).resolve().parent.parent
DECLARATION = f"""\
version: 1
name: shop
region: {REGION}
bucket: {SRC}
pipelines:
  thumbnails:
    source:
      include: ["products/**/*.jpg"]
      exclude: ["products/**/drafts/**"]
    outputs:
      thumb:
        rule: imageMogr2/thumbnail/200x/format/webp
        fileid: /thumbs/{{reldir}}/{{stem}}.webp
      cdn:
        rule: imageMogr2/format/webp
        fileid: /web/{{key}}.webp
        bucket: {CDN}
"""
SOURCES = ["products/a.jpg", "products/shoes/b.jpg", "products/drafts/c.jpg", "products/notes.txt"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC, CDN], seed=1).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def env(server: LocalServer) -> dict[str, str]:
    return {"COSRECON_ENDPOINT": server.endpoint, "TENCENTCLOUD_SECRET_ID": server.secret_id,
            "TENCENTCLOUD_SECRET_KEY": server.secret_key}


@pytest.fixture
def decl_file(tmp_path: Path, server: LocalServer) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(DECLARATION, encoding="utf-8")
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    for key in SOURCES:
        storage.put_object(SRC, key, f"image {key}".encode())
    return path


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["plan", *args], env=env, catch_exceptions=False)


def test_text_first_run(env: dict[str, str], decl_file: Path) -> None:
    result = run(env, str(decl_file))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "+ shop-1250000000/thumbs/a.webp (from products/a.jpg; missing)" in out
    assert "+ cdn-1250000000/web/products/shoes/b.jpg.webp (from products/shoes/b.jpg; missing)" in out
    assert "drafts" not in out and "notes" not in out
    assert out.strip().splitlines()[-1] == \
        "Plan: 4 to create, 0 to replace, 0 to delete, 0 conflicts, 0 unchanged; 2 image_process calls."
    assert result.stderr == ""  # no terminal: no progress


def test_json_validates_against_schema_and_saved_plan_round_trips(env: dict[str, str], decl_file: Path,
                                                                  tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    result = run(env, str(decl_file), "--format", "json", "--out", str(saved))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["summary"] == {"create": 4, "replace": 0, "delete": 0, "unchanged": 0, "conflict": 0,
                               "orphaned": 0, "calls": 2}
    digest = data["sets"][0]["declaration_digest"]
    assert len(digest) == 64 and data["sets"][0]["ledger_generation"] == "0"
    assert {c["key"] for c in data["calls"]} == {"products/a.jpg", "products/shoes/b.jpg"}
    assert load_plan(saved) == plan_from_data(data)


def test_markdown(env: dict[str, str], decl_file: Path) -> None:
    result = run(env, str(decl_file), "--format", "markdown")
    assert result.exit_code == 0
    md = result.stdout
    assert md.startswith("<!-- cosrecon-plan -->")
    assert "| shop | thumbnails.thumb | 2 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "<details>" in md and "products/shoes/b.jpg" in md


def test_detailed_exitcode_and_converged(env: dict[str, str], decl_file: Path, server: LocalServer,
                                        tmp_path: Path) -> None:
    assert run(env, str(decl_file), "--detailed-exitcode").exit_code == 2
    # make the outputs stand and record them in a local ledger, as apply would
    backend = Backend(endpoint=server.endpoint, secret_id=server.secret_id, secret_key=server.secret_key)
    storage = backend.storage(REGION)
    decl = load_declaration(decl_file)
    etags = {o.key: o.etag for o in storage.list_objects(SRC)}
    entries = {}
    for src, reldir_stem in (("products/a.jpg", "a"), ("products/shoes/b.jpg", "shoes/b")):
        for bucket, key, rule, fileid in (
            (SRC, f"thumbs/{reldir_stem}.webp", "imageMogr2/thumbnail/200x/format/webp", "/thumbs/{reldir}/{stem}.webp"),
            (CDN, f"web/{src}.webp", "imageMogr2/format/webp", "/web/{key}.webp"),
        ):
            etag = storage.put_object(bucket, key, b"out")
            entries[(bucket, key)] = LedgerEntry(bucket, key, "x", src, etags[src], fingerprint(rule, bucket, fileid),
                                                 etag.strip('"'), "2026-01-01T00:00:00Z")
    state = tmp_path / "state"
    LedgerStore(backend.storage, state).write_ledger(decl, Ledger("shop", "1", entries, dict(decl.document)))
    result = run(env, str(decl_file), "--state-dir", str(state), "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No changes. Outputs match the declarations.")
    # a rule change shows old -> new and replaces only that output
    decl_file.write_text(DECLARATION.replace("thumbnail/200x", "thumbnail/300x"), encoding="utf-8")
    result = run(env, str(decl_file), "--state-dir", str(state), "--detailed-exitcode")
    assert result.exit_code == 2
    assert "rule changed: imageMogr2/thumbnail/200x/format/webp -> imageMogr2/thumbnail/300x/format/webp" \
        in result.stdout
    assert "Plan: 0 to create, 2 to replace, 0 to delete, 0 conflicts, 2 unchanged; 2 image_process calls." \
        in result.stdout


def test_missing_bucket_is_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(DECLARATION.replace(f"bucket: {SRC}", "bucket: nosuch-1250000000"), encoding="utf-8")
    result = run(env, str(path))
    assert result.exit_code == 1
    assert "nosuch-1250000000" in result.stderr and "NoSuchBucket" in result.stderr
    assert "Traceback" not in result.output


def test_invalid_declaration_exits_1_before_any_request(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["plan", str(path), "--endpoint", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "bad.yaml:" in result.stderr


def test_collision_is_an_error_listing_keys(env: dict[str, str], decl_file: Path, server: LocalServer) -> None:
    Backend(endpoint=server.endpoint, secret_id=server.secret_id,
            secret_key=server.secret_key).storage(REGION).put_object(SRC, "products/a.png", b"x")
    decl_file.write_text(DECLARATION.replace("products/**/*.jpg", "products/*").replace("{reldir}/", ""),
                         encoding="utf-8")
    result = run(env, str(decl_file))
    assert result.exit_code == 1
    assert "thumbs/a.webp" in result.stderr and "products/a.jpg" in result.stderr and "products/a.png" in result.stderr
