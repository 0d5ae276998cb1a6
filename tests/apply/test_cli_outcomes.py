"""What apply and adopt tell: `apply --format json` lists every output created, replaced, deleted and failed;
`adopt` lists what it will record, asks as apply does, and reports as an adopt."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.ops.compose import Backend
from reconciler.local import LocalServer

from tests.apply.conftest import REGION, SRC, jpeg, keys, seed
from test_cli_state import run
from test_cli_targets import write


def test_apply_json_lists_outputs_by_what_happened(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "banners/x.jpg"])
    path = write(tmp_path)
    code, out, err = run(server, "apply", str(path), "--yes", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    created = sorted((o["address"], o["key"], o["reason"]) for o in doc["outputs"]["created"])
    assert created == [("banners.web", "web/x.webp", "missing"), ("photos.png", "png/a.png", "missing"),
                       ("photos.thumb", "thumbs/a.webp", "missing")]
    assert doc["summary"]["created"] == 3 and doc["outputs"]["replaced"] == doc["outputs"]["failed"] == []

    storage = backend.storage(REGION)
    storage.put_object(SRC, "photos/a.jpg", b"not an image")  # source changed, and CI cannot decode it
    path = write(tmp_path, png=False)
    code, out, err = run(server, "apply", str(path), "--yes", "--prune", "--format", "json", "--max-qps", "0")
    assert code == 1
    doc = json.loads(out)
    assert [(o["key"], o["reason"]) for o in doc["outputs"]["deleted"]] == [("png/a.png", "not-declared")]
    assert [o["key"] for o in doc["outputs"]["failed"]] == ["thumbs/a.webp"]
    failed = doc["outputs"]["failed"][0]
    assert failed["reason"] == f"{doc['failures'][0]['code']}: {doc['failures'][0]['message']}"
    assert doc["outputs"]["replaced"] == []
    storage.put_object(SRC, "photos/a.jpg", jpeg("blue"))
    code, out, err = run(server, "apply", str(path), "--yes", "--format", "json")
    assert code == 0, err
    assert [(o["key"], o["reason"]) for o in json.loads(out)["outputs"]["replaced"]] == [
        ("thumbs/a.webp", "source-changed")]


def test_adopt_lists_asks_and_reports_as_adopt(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg"])
    backend.storage(REGION).put_object(SRC, "png/a.png", jpeg("green"))  # made elsewhere
    path = write(tmp_path)
    code, out, err = run(server, "adopt", str(path))
    assert code == 1
    assert out.splitlines() == [
        "Adopt will record 1 object(s) standing at declared keys, as they are (nothing is processed):",
        f"  + {SRC}/png/a.png (shop photos.png, from photos/a.jpg)"]
    assert err == "Error: adopt needs confirmation but no terminal is attached; re-run with --yes\n"
    code, out, err = run(server, "state", "list", str(path))
    assert out == ""  # nothing recorded
    code, out, err = run(server, "adopt", str(path), "--yes")
    assert code == 0, err
    assert out.splitlines()[-1] == "Adopt complete: 1 recorded in the ledger, 0 failed, 0 skipped."
    assert "Apply" not in out and "created" not in out
    assert keys(backend, prefix="thumbs/") == set()  # adopt processes nothing
    code, out, err = run(server, "adopt", str(path))
    assert code == 0 and out.startswith("Nothing to adopt")
