"""`cosrecon state list|show|rm` and `cosrecon destroy SET` through click, against the local server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.local import LocalServer

from tests.apply.conftest import REGION, SRC, jpeg, keys, seed
from test_cli_targets import write

RETIRED = """\
version: 1
name: shop
region: ap-guangzhou
bucket: src-1250000000
pipelines: {}
retired:
  - address: photos.thumb
    fileid: /thumbs/{stem}.webp
    include: ["photos/**/*.jpg"]
  - address: photos.png
    fileid: /png/{stem}.png
    include: ["photos/**/*.jpg"]
  - address: banners.web
    fileid: /web/{stem}.webp
    include: ["banners/*.jpg"]
"""


def run(server: LocalServer, *args: str) -> tuple[int, str, str]:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key,
           "COSRECON_ENDPOINT": server.endpoint}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def applied(server: LocalServer, backend: Backend, tmp_path: Path) -> Path:
    seed(backend, ["photos/a.jpg", "photos/b.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    code, _, err = run(server, "apply", str(path), "--yes")
    assert code == 0, err
    return path


def test_state_list_text_and_json(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    path = applied(server, backend, tmp_path)
    code, out, err = run(server, "state", "list", str(path))
    assert code == 0 and err == "5 recorded output(s).\n"
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"shop  banners.web  {SRC}/web/x.webp  <- banners/x.jpg (etag ")

    code, out, _ = run(server, "state", "list", str(path), "--set", "shop", "--address", "photos.thumb",
                       "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["kind"] == "state"
    assert [(e["key"], e["source_key"], e["rule"]) for e in doc["entries"]] == [
        ("thumbs/a.webp", "photos/a.jpg", "imageMogr2/thumbnail/32x/format/webp"),
        ("thumbs/b.webp", "photos/b.jpg", "imageMogr2/thumbnail/32x/format/webp")]
    assert all(e["source_etag"] and e["output_etag"] and e["made_at"] for e in doc["entries"])
    code, out, _ = run(server, "state", "list", str(path), "--address", "photos", "--format", "json")
    assert len(json.loads(out)["entries"]) == 4

    code, _, err = run(server, "state", "list", str(path), "--set", "nope")
    assert code == 1 and err == "Error: --set 'nope': not declared in the given paths (declared: shop)\n"


def test_state_show(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    path = applied(server, backend, tmp_path)
    code, out, _ = run(server, "state", "show", f"{SRC}/thumbs/a.webp", str(path))
    assert code == 0
    fields = dict(line.split(":", 1) for line in out.splitlines())
    assert fields["address"].strip() == "photos.thumb"
    assert fields["source"].strip() == f"{SRC}/photos/a.jpg"
    assert fields["rule"].strip() == "imageMogr2/thumbnail/32x/format/webp"
    head = backend.storage(REGION).head_object(SRC, "photos/a.jpg")
    assert head is not None and fields["source etag"].strip() == head.etag
    code, out, _ = run(server, "state", "show", "thumbs/a.webp", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["key"] == "thumbs/a.webp"
    code, _, err = run(server, "state", "show", "thumbs/zzz.webp", str(path))
    assert code == 1 and "records an output at 'thumbs/zzz.webp'" in err


def test_state_rm_forgets_entries_and_keeps_objects(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    path = applied(server, backend, tmp_path)
    code, _, err = run(server, "state", "rm", str(path), "--key", "thumbs/a.webp")
    assert code == 1 and "needs confirmation" in err  # no terminal, no --yes: nothing forgotten
    code, out, err = run(server, "state", "rm", str(path), "--key", "thumbs/a.webp", "--yes")
    assert code == 0, err
    assert out == "Forgot 1 recorded output(s); the objects were not touched.\n"
    assert f"shop  photos.thumb  {SRC}/thumbs/a.webp" in err
    assert "thumbs/a.webp" in keys(backend, prefix="thumbs/")
    code, out, _ = run(server, "plan", str(path), "--detailed-exitcode")
    assert code == 2 and f"! {SRC}/thumbs/a.webp" in out  # the object stands, unrecorded: a conflict
    code, out, err = run(server, "adopt", str(path), "--yes")  # ... which adopt takes back
    assert code == 0 and "Adopt complete: 1 recorded" in out, err
    assert run(server, "plan", str(path), "--detailed-exitcode")[0] == 0
    code, _, err = run(server, "state", "rm", str(path))
    assert code == 1 and "say what to forget" in err
    code, out, err = run(server, "state", "rm", str(path), "--set", "shop", "--yes")
    assert code == 0 and "Forgot 5 recorded output(s)" in out, err
    code, out, err = run(server, "state", "list", str(path))
    assert code == 0 and out == "" and err == "0 recorded output(s).\n"


def test_destroy_deletes_owned_outputs_behind_confirmation(server: LocalServer, backend: Backend,
                                                           tmp_path: Path) -> None:
    path = applied(server, backend, tmp_path)
    backend.storage(REGION).put_object(SRC, "web/x.webp", jpeg("blue"))  # changed outside: never deleted
    code, _, err = run(server, "destroy", "shop", str(path))
    assert code == 1 and "destroy needs confirmation" in err
    assert len(keys(backend, prefix="thumbs/")) == 2
    code, _, err = run(server, "destroy", "shop", str(path), "--yes", "--max-delete", "3")
    assert code == 1 and "the plan deletes 4 objects; --max-delete allows 3" in err
    code, out, err = run(server, "destroy", "shop", str(path), "--yes")
    assert code == 0, err
    assert "Destroy complete: 4 deleted, 0 failed, 1 kept (changed outside cosrecon)." in out
    assert "`cosrecon state rm --set shop PATH...` forgets them" in out
    assert keys(backend, prefix="thumbs/") == set() and keys(backend, prefix="png/") == set()
    assert keys(backend, prefix="web/") == {"web/x.webp"}
    assert keys(backend, prefix="photos/") == {"photos/a.jpg", "photos/b.jpg"}  # sources untouched
    code, out, _ = run(server, "state", "list", str(path))
    assert out.splitlines()[0].startswith(f"shop  banners.web  {SRC}/web/x.webp")


def test_a_set_retired_with_empty_pipelines_prunes_its_outputs(server: LocalServer, backend: Backend,
                                                               tmp_path: Path) -> None:
    path = applied(server, backend, tmp_path)
    path.write_text(RETIRED.split("retired:")[0], encoding="utf-8")  # no retired: nothing grants a delete
    code, out, err = run(server, "plan", str(path), "--prune")
    assert code == 0 and "0 to delete, 0 conflicts, 5 orphaned" in out
    assert "address: \"photos.png\"" in err and "fileid: \"/png/{stem}.png\"" in err  # the stanza to add
    path.write_text(RETIRED, encoding="utf-8")
    assert run(server, "validate", str(path))[0] == 0
    code, out, _ = run(server, "plan", str(path), "--prune")
    assert code == 0 and "0 to create, 0 to replace, 5 to delete" in out
    code, out, err = run(server, "apply", str(path), "--prune", "--yes")
    assert code == 0 and "5 deleted" in out, err
    assert keys(backend, prefix="thumbs/") | keys(backend, prefix="web/") == set()
    code, out, err = run(server, "state", "list", str(path))
    assert out == "" and err == "0 recorded output(s).\n"
