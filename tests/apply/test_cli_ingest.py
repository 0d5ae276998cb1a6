"""`cosrecon upload` and `cosrecon pic-operations` (issue 18) through click against the local server, the real SDK
over HTTP; requests counted by the server's stats."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from reconciler.apply import ingest as ingest_module
from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.local import LocalServer
from tests.apply.conftest import REGION, SRC, jpeg, keys
from tests.local.conftest import make_client

ROOT = Path(__file__).resolve().parents[2]

# two sets on one bucket: 4 + 3 outputs per image, widths chosen so each output is recognisable
WIDTHS = {"alpha": (16, 24, 32, 40), "beta": (48, 56, 64)}


def write_sets(tmp_path: Path) -> list[Path]:
    paths = []
    for name, widths in WIDTHS.items():
        outputs = {f"w{w}": {"rule": f"imageMogr2/thumbnail/{w}x", "fileid": f"/{name}/w{w}/{{reldir}}/{{stem}}.jpg"}
                   for w in widths}
        data = {"version": 1, "name": name, "region": REGION, "bucket": SRC,
                "pipelines": {"photos": {"source": {"include": ["photos/**/*.jpg"]}, "outputs": outputs}}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths


def run(server: LocalServer, *args: str) -> tuple[int, str, str]:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    result = CliRunner().invoke(main, [*args, "--endpoint", server.endpoint], env=env)
    return result.exit_code, result.stdout, result.stderr


def run_offline(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def width(backend: Backend, key: str) -> int:
    return Image.open(io.BytesIO(backend.storage(REGION).get_object(SRC, key))).size[0]


def expected_keys(stem: str, reldir: str = "") -> set[str]:
    middle = f"{reldir}/" if reldir else ""
    return {f"{name}/w{w}/{middle}{stem}.jpg" for name, widths in WIDTHS.items() for w in widths}


def test_pic_operations_header_makes_the_outputs_then_adopt_records_them(server: LocalServer, backend: Backend,
                                                                          tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    key = "photos/x/a b.jpg"
    code, out, err = run_offline("pic-operations", key, *decls)
    assert code == 0, err
    first = json.loads(out)
    assert [r["fileid"] for r in first["rules"]] == ["/alpha/w16/x/a%20b.jpg", "/alpha/w24/x/a%20b.jpg",
                                                     "/alpha/w32/x/a%20b.jpg", "/alpha/w40/x/a%20b.jpg",
                                                     "/beta/w48/x/a%20b.jpg"]
    assert first["rules"][0]["rule"] == "imageMogr2/thumbnail/16x"
    assert "1 request(s) need `cosrecon apply`" in err
    code, out, _ = run_offline("pic-operations", key, *decls, "--all")
    headers = out.splitlines()
    assert code == 0 and len(headers) == 2 and headers[0] == json.dumps(first, separators=(",", ":"))

    client = make_client(server)
    client.ci_put_object(Bucket=SRC, Key=key, Body=jpeg(size=(200, 100)), PicOperations=headers[0])
    client.ci_image_process(Bucket=SRC, Key=key, PicOperations=headers[1])
    made = keys(backend, prefix="alpha/") | keys(backend, prefix="beta/")
    assert made == expected_keys("a b", "x")
    assert width(backend, "beta/w64/x/a b.jpg") == 64

    code, out, err = run(server, "adopt", "--yes", *decls)
    assert code == 0, out + err
    code, out, err = run(server, "plan", *decls)
    assert code == 0 and "No changes" in out, out + err


def test_pic_operations_refuses_a_key_no_set_selects(tmp_path: Path) -> None:
    code, out, err = run_offline("pic-operations", "docs/readme.txt", *map(str, write_sets(tmp_path)))
    assert code != 0 and "selects key 'docs/readme.txt'" in out + err and "Traceback" not in out + err


def image_folder(tmp_path: Path, count: int, color: str = "red") -> Path:
    folder = tmp_path / "upload"
    body = jpeg(color, size=(120, 80))
    for i in range(count):
        path = folder / f"d{i % 3}" / f"img{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return folder


def counts(server: LocalServer) -> tuple[int, int, int]:
    stats = server.stats()
    return stats.get("ci_put_object", 0), stats.get("put_object", 0), stats.get("image_process", 0)


def test_upload_folder_makes_every_output_in_100_puts_and_100_follow_ups(server: LocalServer, backend: Backend,
                                                                        tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    folder = image_folder(tmp_path, 100)
    state = ["--state-dir", str(tmp_path / "state")]
    before = counts(server)
    code, out, err = run(server, "upload", str(folder), "--bucket", SRC, "--prefix", "photos/", "--yes",
                         "-d", decls[0], "-d", decls[1], *state)
    assert code == 0, out + err
    after = counts(server)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (100, 0, 100)
    assert "Uploaded 100 file(s) with processing upon upload and 0 plainly" in out
    made = keys(backend, prefix="alpha/") | keys(backend, prefix="beta/")
    assert made == {k for i in range(100) for k in expected_keys(f"img{i:03d}", f"d{i % 3}")}
    for name, widths in WIDTHS.items():
        for w in widths:
            assert width(backend, f"{name}/w{w}/d1/img001.jpg") == w

    before = counts(server)
    code, out, err = run(server, "plan", *decls, *state)
    assert code == 0 and "No changes" in out, out + err
    assert counts(server) == before  # planning makes no PUT and no processing call

    code, out, err = run(server, "upload", str(folder), "--bucket", SRC, "--prefix", "photos/", "--yes",
                         "-d", decls[0], "-d", decls[1], *state)
    assert code == 0, out + err
    assert counts(server) == before  # everything stands as recorded: nothing sent again
    assert "100 stood with the same content" in out


def test_upload_refuses_changed_content_unless_overwrite(server: LocalServer, backend: Backend,
                                                          tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    state = ["--state-dir", str(tmp_path / "state")]
    first = tmp_path / "v1" / "a.jpg"
    first.parent.mkdir()
    first.write_bytes(jpeg("red", size=(120, 80)))
    args = ["--bucket", SRC, "--prefix", "photos/", "--yes", "-d", decls[0], "-d", decls[1], *state]
    assert run(server, "upload", str(first), *args)[0] == 0
    etag = backend.storage(REGION).head_object(SRC, "alpha/w16/a.jpg")
    changed = tmp_path / "v2" / "a.jpg"
    changed.parent.mkdir()
    changed.write_bytes(jpeg("blue", size=(90, 60)))
    before = counts(server)
    code, out, err = run(server, "upload", str(changed), *args)
    assert code != 0 and "stands with other content" in out and "--overwrite" in out, out + err
    assert counts(server) == before
    assert backend.storage(REGION).head_object(SRC, "alpha/w16/a.jpg") == etag

    code, out, err = run(server, "upload", str(changed), *args, "--overwrite")
    assert code == 0, out + err
    assert counts(server)[0] - before[0] == 1 and counts(server)[2] - before[2] == 1
    assert backend.storage(REGION).head_object(SRC, "alpha/w16/a.jpg") != etag
    code, out, err = run(server, "plan", *decls, *state)
    assert code == 0 and "No changes" in out, out + err


def test_upload_plain_files_and_only_declared(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    args = ["--bucket", SRC, "--prefix", "photos/", "--yes", "-d", decls[0], "-d", decls[1],
            "--state-dir", str(tmp_path / "state")]
    code, out, err = run(server, "upload", str(notes), *args, "--only-declared")
    assert code != 0 and "--only-declared" in out + err and "Traceback" not in out + err
    assert "photos/notes.txt" not in keys(backend)
    code, out, err = run(server, "upload", str(notes), *args)
    assert code == 0 and "0 file(s) with processing upon upload and 1 plainly" in out, out + err
    assert backend.storage(REGION).get_object(SRC, "photos/notes.txt") == b"hello"


def noisy_jpeg(side: int) -> bytes:
    """A JPEG that does not compress well: ~1.5 MB at 1000 px."""
    image = Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def test_files_over_the_processing_limit_are_uploaded_in_parts_then_processed(
        server: LocalServer, backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "PROCESSING_LIMIT", 100)  # the test images are "large"
    monkeypatch.setattr(ingest_module, "PART_MB", 1)
    decls = [str(p) for p in write_sets(tmp_path)]
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "big.jpg").write_bytes(noisy_jpeg(1000))
    assert (folder / "big.jpg").stat().st_size > 1024 * 1024  # more than one part
    (folder / "small.jpg").write_bytes(jpeg(size=(120, 80)))  # over the limit too, but one part: one PUT
    args = ["--bucket", SRC, "--prefix", "photos/", "--yes", "-d", decls[0], "-d", decls[1],
            "--state-dir", str(tmp_path / "state")]
    before = server.stats()
    code, out, err = run(server, "upload", str(folder), *args)
    assert code == 0, out + err
    after = server.stats()

    def sent(name: str) -> int:
        return after.get(name, 0) - before.get(name, 0)

    assert (sent("ci_put_object"), sent("put_object"), sent("image_process")) == (0, 1, 4)  # ceil(7/5) per file
    assert sent("create_multipart_upload") == 1 and sent("complete_multipart_upload") == 1 and sent("upload_part") == 2
    assert backend.storage(REGION).head_object(SRC, "photos/big.jpg").etag.endswith("-2")  # type: ignore[union-attr]
    assert keys(backend, prefix="beta/") == {f"beta/w{w}/{n}.jpg" for w in WIDTHS["beta"] for n in ("big", "small")}
    assert width(backend, "beta/w48/big.jpg") == 48
    code, out, err = run(server, "plan", *decls, "--state-dir", str(tmp_path / "state"))
    assert code == 0 and "No changes" in out, out + err  # the multipart ETag was planned right
    before = server.stats()
    assert run(server, "upload", str(folder), *args)[0] == 0
    assert server.stats().get("upload_part", 0) == before.get("upload_part", 0)  # standing: not uploaded again


def _upload_process(server: LocalServer, folder: Path, decls: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key,
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "reconciler", "upload", str(folder), "--bucket", SRC, "--prefix",
                             "photos/", "--yes", "-d", decls[0], "-d", decls[1], "--endpoint", server.endpoint,
                             "--max-qps", "0", "--parallelism", "4"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _outputs(backend: Backend) -> set[str]:
    return keys(backend, prefix="alpha/") | keys(backend, prefix="beta/")


def test_kill_9_mid_upload_then_rerun_converges(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    folder = image_folder(tmp_path, 40)
    server.set_faults(latency_ms=150)
    proc = _upload_process(server, folder, decls)
    deadline = time.monotonic() + 30
    while counts(server)[0] < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    server.set_faults(latency_ms=0)
    # requests already inside the server finish after the kill, as in the cloud: look once they have landed
    made, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 0.6 and time.monotonic() < deadline:
        now = len(_outputs(backend))
        if now != made:
            made, stable_since = now, time.monotonic()
        time.sleep(0.1)
    standing = len(keys(backend, prefix="photos/"))
    assert 0 < standing < 40 and 0 < made < 280
    before = counts(server)
    proc = _upload_process(server, folder, decls)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "took over" in out and " 0 failed" in out
    after = counts(server)
    assert after[0] - before[0] == 40 - standing  # no file PUT twice (put_object counts the ledger's writes)
    created = int(out.split("Upload complete: ")[1].split(" created")[0])
    assert created == 280 - made  # outputs standing after the kill are recorded (journal, intents), not remade
    assert len(_outputs(backend)) == 280
    code, out, err = run(server, "plan", *decls)
    assert code == 0 and "No changes" in out, out + err


def test_force_puts_again_and_remakes_recorded_outputs(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    image = tmp_path / "a.jpg"
    image.write_bytes(jpeg(size=(120, 80)))
    args = ["--bucket", SRC, "--prefix", "photos/", "--yes", "-d", decls[0], "-d", decls[1],
            "--state-dir", str(tmp_path / "state")]
    assert run(server, "upload", str(image), *args)[0] == 0
    before = counts(server)
    code, out, err = run(server, "upload", str(image), *args)
    assert code == 0 and counts(server) == before, out + err  # standing and recorded: skipped
    code, out, err = run(server, "upload", str(image), *args, "--force")
    assert code == 0, out + err
    after = counts(server)
    assert (after[0] - before[0], after[2] - before[2]) == (1, 1) and "7 replaced" in out
    code, out, err = run(server, "plan", *decls, "--state-dir", str(tmp_path / "state"))
    assert code == 0 and "No changes" in out, out + err


def test_upload_never_overwrites_a_recorded_output(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    image = tmp_path / "a.jpg"
    image.write_bytes(jpeg(size=(120, 80)))
    args = ["--yes", "-d", decls[0], "-d", decls[1], "--state-dir", str(tmp_path / "state")]
    assert run(server, "upload", str(image), "--bucket", SRC, "--prefix", "photos/", *args)[0] == 0
    recorded = backend.storage(REGION).head_object(SRC, "alpha/w16/a.jpg")
    code, out, err = run(server, "upload", str(image), "--bucket", SRC, "--prefix", "alpha/w16/", "--overwrite",
                         *args)
    assert code != 0 and "is an output of set 'alpha'" in out, out + err
    assert backend.storage(REGION).head_object(SRC, "alpha/w16/a.jpg") == recorded


def test_an_unmanaged_object_at_an_output_key_is_a_conflict_not_overwritten(server: LocalServer, backend: Backend,
                                                                             tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    storage = backend.storage(REGION)
    storage.put_object(SRC, "alpha/w16/a.jpg", b"someone else's")
    image = tmp_path / "a.jpg"
    image.write_bytes(jpeg(size=(120, 80)))
    before = counts(server)
    code, out, err = run(server, "upload", str(image), "--bucket", SRC, "--prefix", "photos/", "--yes",
                         "-d", decls[0], "-d", decls[1], "--state-dir", str(tmp_path / "state"))
    assert code == 0, out + err
    assert "conflict" in out.lower() and "alpha/w16/a.jpg" in out
    assert storage.get_object(SRC, "alpha/w16/a.jpg") == b"someone else's"
    after = counts(server)
    assert (after[0] - before[0], after[2] - before[2]) == (1, 1)  # 6 outputs: the PUT's 5, then 1
    assert len(_outputs(backend)) == 7


def test_upload_report_is_one_line_per_fact(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    decls = [str(p) for p in write_sets(tmp_path)]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    code, out, err = run(server, "upload", str(folder), "--bucket", SRC, "--prefix", "photos/", "--yes",
                         "-d", decls[0], "-d", decls[1], "--state-dir", str(tmp_path / "state"))
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[-2].startswith("Upload complete: 0 created") and lines[-1].startswith("Uploaded 0 file(s)")
    assert "\\n" not in out  # lines are joined by newlines, not escaped ones


def test_upload_warns_of_keys_another_sets_ledger_owns_before_it_asks(server: LocalServer, backend: Backend,
                                                                      tmp_path: Path) -> None:
    """upload runs the one workflow: what apply will refuse is said when the plan is shown, before confirmation."""
    decls = [str(p) for p in write_sets(tmp_path)]
    image = tmp_path / "a.jpg"
    image.write_bytes(jpeg(size=(120, 80)))
    state = ["--state-dir", str(tmp_path / "state")]
    assert run(server, "upload", str(image), "--bucket", SRC, "--prefix", "photos/", "--yes", "-d", decls[0],
               "-d", decls[1], *state)[0] == 0
    backend.storage(REGION).delete_object(SRC, "alpha/w16/a.jpg")  # alpha's ledger still records it
    taker = tmp_path / "taker.yaml"
    taker.write_text(json.dumps({"version": 1, "name": "taker", "region": REGION, "bucket": SRC, "pipelines": {
        "photos": {"source": {"include": ["photos/**/*.jpg"]},
                   "outputs": {"w16": {"rule": "imageMogr2/thumbnail/16x", "fileid": "/alpha/w16/{reldir}/{stem}.jpg"}}}}}))
    code, out, err = run(server, "upload", str(image), "--bucket", SRC, "--prefix", "photos/", "-d", str(taker), *state)
    assert code != 0 and "needs confirmation" in err, out + err
    assert "keys set 'alpha''s ledger owns" in err, err
    assert err.index("ledger owns") < err.index("needs confirmation")
    assert backend.storage(REGION).head_object(SRC, "alpha/w16/a.jpg") is None
