"""Plans that say what they mean: orphans counted in the headline, `--detailed-exitcode` 2 until the plan is green,
the way to green told after an apply, the prune footer matching its lines, warnings, and the markdown comment."""

from __future__ import annotations

from pathlib import Path

from reconciler.ops.compose import Backend
from reconciler.local import LocalServer
from reconciler.render.markdown import MARKER

from tests.apply.conftest import REGION, SRC, jpeg, seed
from test_cli_state import run
from test_cli_targets import write


def test_orphans_only_is_not_no_changes_and_exits_2(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    assert run(server, "apply", str(path), "--yes")[0] == 0
    assert run(server, "plan", str(path), "--detailed-exitcode")[:2] == (
        0, "No changes. Outputs match the declarations.\n(3 unchanged.)\n")
    path = write(tmp_path, png=False)
    code, out, _ = run(server, "plan", str(path), "--detailed-exitcode")
    assert code == 2
    assert "No changes" not in out
    assert out.splitlines()[-1] == ("Plan: 0 to create, 0 to replace, 0 to delete, 0 conflicts, 1 orphaned, "
                                    "2 unchanged; 0 image_process calls.")
    assert f"      ? {SRC}/png/a.png (from photos/a.jpg; not-declared)" in out
    assert ("  1 orphaned output kept: no longer declared or their source is gone (prune: true or --prune deletes "
            "them; `cosrecon state rm` forgets them).") in out

    code, out, err = run(server, "apply", str(path), "--yes")
    assert code == 0, err
    assert out.splitlines()[-3:] == [
        out.splitlines()[-3],  # the apply summary line
        f"1 orphaned output kept: `cosrecon apply {path} --prune` deletes them, or `cosrecon state rm {path} "
        "--key KEY` forgets them.",
        f"Then `cosrecon plan {path} --detailed-exitcode` exits 0."]
    assert out.splitlines()[-3].startswith("Apply complete: 0 created")
    assert run(server, "state", "rm", str(path), "--key", "png/a.png", "--yes")[0] == 0
    assert run(server, "plan", str(path), "--detailed-exitcode")[0] == 0  # green, as promised


def test_conflicts_left_by_an_apply_and_the_way_to_green(server: LocalServer, backend: Backend,
                                                         tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg"])
    backend.storage(REGION).put_object(SRC, "png/a.png", jpeg("green"))  # not made by cosrecon
    path = write(tmp_path)
    code, out, err = run(server, "apply", str(path), "--yes")
    assert code == 0, err
    assert ("  1 conflict: objects cosrecon did not make stand at declared keys; `cosrecon adopt` records them as "
            "they stand, or `--replace-unmanaged` remakes them.") in out
    assert out.splitlines()[-2:] == [
        f"1 conflict left: `cosrecon adopt {path}` records them as they stand, or `cosrecon apply {path} "
        "--replace-unmanaged` remakes them.",
        f"Then `cosrecon plan {path} --detailed-exitcode` exits 0."]
    code, out, _ = run(server, "plan", str(path), "--detailed-exitcode")
    assert code == 2 and out.splitlines()[-1].startswith("Plan: 0 to create, 0 to replace, 0 to delete, 1 conflict,")
    assert run(server, "adopt", str(path), "--yes")[0] == 0
    assert run(server, "plan", str(path), "--detailed-exitcode")[0] == 0


def test_prune_footer_matches_its_lines(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "photos/b.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    assert run(server, "apply", str(path), "--yes")[0] == 0
    backend.storage(REGION).put_object(SRC, "png/b.png", jpeg("blue"))  # changed outside since it was made
    path = write(tmp_path, png=False)
    code, out, _ = run(server, "plan", str(path), "--prune")
    assert code == 0
    assert f"      - {SRC}/png/a.png (from photos/a.jpg; not-declared)" in out
    assert (f"      ? {SRC}/png/b.png (from photos/b.jpg; not-declared: changed outside cosrecon since it was made; "
            "not deleted)") in out
    assert "  1 orphaned output deleted by apply (pruning)." in out
    assert ("  1 orphaned output kept although pruning: changed outside cosrecon since they were made, so never "
            "deleted (`cosrecon state rm` forgets them).") in out
    assert "prune: true or --prune deletes them" not in out  # no "kept" under lines that delete


def test_warnings_in_validate_plan_and_markdown(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text("""\
version: 1
name: shop
region: ap-guangzou
bucket: src-1250000000
pipelines:
  photos:
    source:
      include: ["photos/**/*.jpg"]
    outputs:
      thumb:
        rule: imageMogr2/thumbnail/32x/format/webp
        fileid: /thumbs/{stem}.jpg
""", encoding="utf-8")
    region = f"{path}: $.region: warning: 'ap-guangzou' is not a COS region; did you mean 'ap-guangzhou'?"
    ext = (f"{path}: $.pipelines.photos.outputs.thumb.fileid: warning: fileid '/thumbs/{{stem}}.jpg' ends in .jpg "
           "but the rule writes webp (format/webp)")
    empty = (f"{path}: $.pipelines.photos.source.include: warning: matches no object in bucket src-1250000000 "
             "(photos/**/*.jpg)")
    code, out, err = run(server, "validate", str(path))
    assert code == 0 and err.splitlines() == [region, ext]
    code, out, err = run(server, "plan", str(path))
    assert code == 0 and err.splitlines() == [region, ext, empty]
    code, out, err = run(server, "plan", str(path), "--format", "markdown")
    assert code == 0 and out.startswith(MARKER)
    for warning in (region, ext, empty):
        assert f"> :warning: {warning}\n" in out
    seed(backend, ["photos/a.jpg"])
    code, out, err = run(server, "plan", str(path))
    assert err.splitlines() == [region, ext]  # the globs match now


def test_markdown_shows_deletions_open_and_the_conflict_hint(server: LocalServer, backend: Backend,
                                                             tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    assert run(server, "apply", str(path), "--yes")[0] == 0
    backend.storage(REGION).put_object(SRC, "photos/b.jpg", jpeg())
    backend.storage(REGION).put_object(SRC, "png/b.png", jpeg("green"))  # stands where photos.png would write
    path.write_text(path.read_text(encoding="utf-8").replace("        fileid: /web/{stem}.webp\n",
                                                             "        fileid: /web2/{stem}.webp\n")
                    + 'retired:\n  - {address: banners.web, fileid: "/web/{stem}.webp", include: ["banners/*.jpg"]}\n')
    code, out, _ = run(server, "plan", str(path), "--prune", "--format", "markdown")
    assert code == 0
    assert (f"<details open><summary>- shop · banners.web: 1 delete</summary>\n\n<pre>\n{SRC}/web/x.webp "
            "(from banners/x.jpg; not-declared)\n</pre>") in out
    assert ("- shop: 1 conflict: objects cosrecon did not make stand at declared keys; `cosrecon adopt` records "
            "them as they stand, or `--replace-unmanaged` remakes them.") in out
    assert "<details><summary>+ shop · banners.web: 1 create</summary>" in out  # the rest stay folded


def test_validate_and_plan_warn_about_settings_cosrecon_cannot_read(server: LocalServer, backend: Backend,
                                                                    tmp_path: Path) -> None:
    """Issue 24: AVIF/HEIF/TPG need advanced compression on the bucket (436/42215) and a style name must not hold an
    enabled separator: cosrecon cannot read either setting, so validate and plan warn, with the page; the
    declaration stays valid (exit 0)."""
    seed(backend, ["photos/a.jpg"])
    path = tmp_path / "shop.yaml"
    path.write_text("""\
version: 1
name: shop
region: ap-guangzhou
bucket: src-1250000000
pipelines:
  photos:
    source:
      include: ["photos/**/*.jpg"]
    outputs:
      avif: {rule: imageMogr2/format/avif, fileid: "/avif/{stem}.avif"}
      styled: {rule: style/thumb-small, fileid: "/styled/{name}"}
""", encoding="utf-8")
    for verb in ("validate", "plan"):
        code, out, err = run(server, verb, str(path))
        assert code == 0, err
        assert (f"{path}: $.pipelines.photos.outputs.avif.rule: warning: format/avif needs image advanced compression "
                "enabled on bucket src-1250000000 first (https://cloud.tencent.com/document/product/436/42215)") in err
        assert f"{path}: $.pipelines.photos.outputs.styled.rule: warning: style name 'thumb-small' contains '-'" in err
