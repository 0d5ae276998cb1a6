"""Which files a directory search takes as declarations, and `validate` reporting every problem in one run."""

from __future__ import annotations

import shlex
from pathlib import Path

from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.local import LocalServer

from tests.apply.conftest import keys, seed
from test_cli_state import run
from test_cli_targets import write

COMPOSE = """\
version: "3.8"
services:
  cos:
    image: cosrecon
    command: cosrecon local serve --port 9000
"""


def test_plan_out_into_the_declarations_folder_then_the_suggested_command(server: LocalServer, backend: Backend,
                                                                          tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg"])
    decl_dir = tmp_path / "decl"
    decl_dir.mkdir()
    write(decl_dir)
    (decl_dir / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    code, _, err = run(server, "plan", f"{decl_dir}/", "--out", f"{decl_dir}/plan.json")
    assert code == 0, err
    suggested = err.split("apply it with `", 1)[1].split("`", 1)[0]
    assert suggested == f"cosrecon apply {decl_dir}/ --plan {decl_dir}/plan.json"
    code, out, err = run(server, *shlex.split(suggested)[1:])
    assert code == 0, err
    assert "2 created" in out
    assert keys(backend, prefix="thumbs/") == {"thumbs/a.webp"}
    code, out, err = run(server, "validate", str(decl_dir))
    assert code == 0 and out.startswith("Valid: 1 set, 2 pipelines, 3 outputs in 1 file"), err


def test_unrelated_files_alone_are_no_declarations(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path}:1:1: $: no declarations found: 1 file(s) skipped as not declarations "
        f"({tmp_path}/docker-compose.yml; a declaration has version: 1 and pipelines)")
    # named on the command line, a file is always read as a declaration
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "docker-compose.yml")])
    assert result.exit_code == 1 and "$.services" in result.stderr


def test_broken_declarations_in_a_folder_are_still_reported(tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text("version: 1\nname: shop\nbucket: b-1250000000\npipeline: {}\n")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1 and "typo.yaml" in result.stderr


def test_validate_reports_dotdot_fileids_with_schema_problems_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("""\
version: 1
name: shop
region: ap-guangzhou
bucket: shop-1250000000
pipelines:
  p:
    source:
      include: ["a/*.jpg"]
    outputs:
      one:
        rule: imageMogr2/format/webp
        fileid: "../x/{stem}.webp"
      two:
        rule: imageMogr2/format/webp
        fileid: "/y/{nope}.webp"
        extra: 1
""", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:12:17: $.pipelines.p.outputs.one.fileid: fileid renders to 'a/../x/sample.webp', which has a '..' "
        "segment (keys must not escape), for source 'a/sample.jpg'",
        f"{path}:15:17: $.pipelines.p.outputs.two.fileid: unknown template variable {{nope}} (known: {{key}} {{dir}} "
        "{name} {stem} {ext} {rel} {reldir})",
        f"{path}:16:9: $.pipelines.p.outputs.two.extra: unknown property 'extra' (allowed: bucket, fileid, "
        "overwrite_source, rule)",
        "Error: 3 problem(s) found."]


def test_validate_reports_dotdot_fileids_beside_a_bad_glob(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("""\
version: 1
name: shop
region: ap-guangzhou
bucket: shop-1250000000
pipelines:
  p:
    source:
      include: ["a/*.jpg", "/b/*.jpg"]
    outputs:
      one:
        rule: imageMogr2/format/webp
        fileid: "../x/{stem}.webp"
""", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:8:28: $.pipelines.p.source.include[1]: glob '/b/*.jpg' starts with '/': object keys never do "
        "(drop the '/')",
        f"{path}:12:17: $.pipelines.p.outputs.one.fileid: fileid renders to 'a/../x/sample.webp', which has a '..' "
        "segment (keys must not escape), for source 'a/sample.jpg'",
        "Error: 2 problem(s) found."]
