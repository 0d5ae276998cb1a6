"""`plan`/`apply --target ADDRESS` and `apply --replace ADDRESS_OR_KEY` through click, against the local server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.declare.load import load_declarations
from reconciler.local import LocalServer

from tests.apply.conftest import SRC, keys, process_calls, seed

DECL = """\
version: 1
name: shop
region: ap-guangzhou
bucket: src-1250000000
pipelines:
  photos:
    source:
      include: ["photos/**/*.jpg"]
    outputs:
      thumb:
        rule: imageMogr2/thumbnail/32x/format/webp
        fileid: /thumbs/{stem}.webp
{png}
  banners:
    source:
      include: ["banners/*.jpg"]
    outputs:
      web:
        rule: imageMogr2/format/webp
        fileid: /web/{stem}.webp
"""
PNG = """\
      png:
        rule: imageMogr2/format/png
        fileid: /png/{stem}.png"""


RETIRED_PNG = """\
retired:
  - address: photos.png
    fileid: /png/{stem}.png
    include: ["photos/**/*.jpg"]
"""


def write(tmp_path: Path, png: bool = True, retired: bool = True) -> Path:
    """The declaration; without ``png`` the png output is removed and, with ``retired`` (as a user would to prune
    its outputs), listed under ``retired:``."""
    path = tmp_path / "shop.yaml"
    text = DECL.replace("{png}", PNG if png else "") + ("" if png or not retired else RETIRED_PNG)
    path.write_text(text, encoding="utf-8")
    return path


def run(server: LocalServer, *args: str) -> tuple[int, str, str]:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key,
           "COSRECON_ENDPOINT": server.endpoint}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def ledger_addresses(backend: Backend, path: Path) -> list[str]:
    (decl,) = load_declarations([str(path)])
    return sorted(e.address for e in backend.ledgers.read(decl).entries.values())


def test_target_plans_and_applies_only_that_output(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "photos/b.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    code, out, _ = run(server, "plan", str(path), "--target", "shop.photos.thumb", "--format", "json")
    assert code == 0
    actions = json.loads(out)["actions"]
    assert {(a["address"], a["key"]) for a in actions} == {("photos.thumb", "thumbs/a.webp"),
                                                           ("photos.thumb", "thumbs/b.webp")}

    code, out, err = run(server, "apply", str(path), "--yes", "--target", "shop.photos.thumb")
    assert code == 0, err
    assert "2 created" in out
    assert keys(backend, prefix="thumbs/") == {"thumbs/a.webp", "thumbs/b.webp"}
    assert keys(backend, prefix="png/") == set() and keys(backend, prefix="web/") == set()
    assert ledger_addresses(backend, path) == ["photos.thumb", "photos.thumb"]

    # a pipeline, then the whole set: the rest follows; the thumbs stay as they are
    code, out, err = run(server, "apply", str(path), "--yes", "--target", "shop.banners")
    assert code == 0 and "1 created" in out, err
    code, out, _ = run(server, "plan", str(path), "--detailed-exitcode", "--target", "shop")
    assert code == 2 and "Plan: 2 to create, 0 to replace" in out and "3 unchanged" in out


def test_target_leaves_other_orphans_alone_even_when_pruning(server: LocalServer, backend: Backend,
                                                             tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    assert run(server, "apply", str(path), "--yes")[0] == 0
    path = write(tmp_path, png=False)  # photos.png no longer declared: its output is an orphan
    code, out, err = run(server, "apply", str(path), "--yes", "--prune", "--target", "shop.banners")
    assert code == 0, err
    assert "0 deleted" in out
    assert keys(backend, prefix="png/") == {"png/a.png"}
    assert "photos.png" in ledger_addresses(backend, path)
    code, out, err = run(server, "apply", str(path), "--yes", "--prune", "--target", "shop.photos.png")
    assert code == 0 and "1 deleted" in out, err
    assert keys(backend, prefix="png/") == set()


def test_unknown_target_is_a_usage_error(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    path = write(tmp_path)
    code, _, err = run(server, "plan", str(path), "--target", "shop.photo")
    assert code == 1
    assert err == "Error: --target 'shop.photo': no output of set 'shop' is declared or recorded at that address\n"
    code, _, err = run(server, "apply", str(path), "--yes", "--target", "other")
    assert code == 1
    assert err.startswith("Error: --target 'other': no such set, pipeline or output is declared (declared: shop, "
                          "shop.photos, shop.photos.thumb, shop.photos.png, shop.banners, shop.banners.web)")


def test_replace_remakes_unchanged_outputs(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "photos/b.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    assert run(server, "apply", str(path), "--yes")[0] == 0
    before = process_calls(server)

    code, out, _ = run(server, "plan", str(path), "--replace", "shop.photos.thumb", "--format", "json")
    assert code == 0
    actions = json.loads(out)["actions"]
    assert sorted((a["action"], a["reason"], a["key"]) for a in actions) == [
        ("replace", "replace-requested", "thumbs/a.webp"), ("replace", "replace-requested", "thumbs/b.webp")]

    code, out, err = run(server, "apply", str(path), "--yes", "--replace", "shop.photos.thumb")
    assert code == 0, err
    assert "0 created, 2 replaced" in out
    assert process_calls(server) - before == 2
    # by key, with or without its bucket
    code, out, err = run(server, "apply", str(path), "--yes", "--replace", f"{SRC}/web/x.webp")
    assert code == 0 and "1 replaced" in out, err
    code, out, err = run(server, "apply", str(path), "--yes", "--replace", "png/a.png")
    assert code == 0 and "1 replaced" in out, err
    assert run(server, "plan", str(path), "--detailed-exitcode")[0] == 0  # converged again


def test_replace_of_nothing_recorded_is_refused(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg"])
    path = write(tmp_path)
    code, _, err = run(server, "apply", str(path), "--yes", "--replace", "thumbs/zzz.webp")
    assert code == 1
    assert "--replace 'thumbs/zzz.webp': no output the ledger records matches" in err
    assert keys(backend, prefix="thumbs/") == set()  # nothing applied


def test_saved_plan_with_replacements_applies_only_with_the_same_replace(server: LocalServer, backend: Backend,
                                                                         tmp_path: Path) -> None:
    """The replacements of a saved plan are never read from it: apply's own --replace must ask for them (the
    reviewer's flags repeated), or the plan is refused as an addition, naming the output."""
    seed(backend, ["photos/a.jpg"])
    path = write(tmp_path)
    assert run(server, "apply", str(path), "--yes")[0] == 0
    saved = tmp_path / "plan.json"
    code, _, err = run(server, "plan", str(path), "--replace", "shop.photos.png", "--out", str(saved))
    assert code == 0, err
    before = {k: backend.storage("ap-guangzhou").get_object(SRC, k) for k in keys(backend)}
    code, out, err = run(server, "apply", str(path), "--plan", str(saved))
    assert code == 1 and "png/a.png" in err and "apply's own --replace does not ask for" in err
    assert {k: backend.storage("ap-guangzhou").get_object(SRC, k) for k in keys(backend)} == before
    code, out, err = run(server, "apply", str(path), "--plan", str(saved), "--replace", "shop.photos.png",
                         "--target", "shop")
    assert code == 0, err
    assert "0 created, 1 replaced" in out


def test_saved_targeted_plan_applies_only_its_outputs(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    saved = tmp_path / "plan.json"
    code, _, err = run(server, "plan", str(path), "--target", "shop.banners.web", "--out", str(saved))
    assert code == 0 and f"apply it with `cosrecon apply {path} --plan {saved}`" in err
    code, out, err = run(server, "apply", str(path), "--plan", str(saved))
    assert code == 0 and "1 created" in out, err
    assert keys(backend, prefix="web/") == {"web/x.webp"}
    assert keys(backend, prefix="thumbs/") == set() and keys(backend, prefix="png/") == set()
