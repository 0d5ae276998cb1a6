"""`cosrecon upload` and `cosrecon pic-operations` (issue 18) through click against the local server, the real SDK
over HTTP; requests counted by the server's stats."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from reconciler.apply.backend import Backend
from reconciler.cli import main
from reconciler.local import LocalServer
from tests.apply.conftest import REGION, SRC, jpeg, keys
from tests.local.conftest import make_client

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
