"""Every command that prints keys, run through the CLI against the local server with hostile keys (ESC, CR, LF,
U+202E, U+2028, ``|``, backticks): no raw control or bidi character reaches its text or markdown output, and a LF
in a key never forges a line of its own (issue 22)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.local import LocalServer
from reconciler.ops.compose import Backend

from tests.apply.conftest import REGION, SRC, jpeg

HOSTILE = "photos/a\x1b[31m\r\u202e\u2028|`x`\nFORGED line.jpg"
PLAIN = "photos/plain.jpg"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
DECL = """\
version: 1
name: shop
region: ap-guangzhou
bucket: src-1250000000
pipelines:
  photos:
    source:
      include: ["photos/*.jpg"]
    outputs:
      thumb:
        rule: imageMogr2/thumbnail/32x/format/webp
        fileid: /thumbs/{stem}.webp
"""


@pytest.fixture
def server(tmp_path: Path) -> LocalServer:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC], ci_qps=0, seed=7).start()
    yield srv  # type: ignore[misc]
    srv.stop()


def _run(server: LocalServer, *args: str) -> tuple[int, str]:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key,
           "COSRECON_ENDPOINT": server.endpoint}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout + result.stderr


def _clean(command: str, output: str) -> None:
    raw = RAW.search(output)
    assert raw is None, f"{command}: raw {raw.group()!r} in {output!r}"
    forged = [line for line in output.splitlines() if line.startswith("FORGED")]
    assert not forged, f"{command}: a key's LF forged a line: {forged}"


def test_every_listing_of_keys_escapes_them(server: LocalServer, tmp_path: Path) -> None:
    backend = Backend(endpoint=server.endpoint, secret_id=server.secret_id, secret_key=server.secret_key)
    storage = backend.storage(REGION)
    for key in (HOSTILE, PLAIN):
        storage.put_object(SRC, key, jpeg())
    stem = HOSTILE.rsplit("/", 1)[1].rsplit(".", 1)[0]
    storage.put_object(SRC, f"thumbs/{stem}.webp", jpeg("green"))  # stands unrecorded: adopt lists it
    path = tmp_path / "shop.yaml"
    path.write_text(DECL, encoding="utf-8")
    p = str(path)
    seen = {}
    for args in (("plan", p), ("plan", p, "--format", "markdown"), ("adopt", p), ("adopt", p, "--yes"),
                 ("apply", p, "--yes"), ("state", "list", p), ("state", "show", f"thumbs/{stem}.webp", p),
                 ("state", "rm", p, "--key", f"thumbs/{stem}.webp"), ("plan", p, "--prune"),
                 ("destroy", "shop", p), ("destroy", "shop", p, "--yes")):
        code, output = _run(server, *args)
        seen[args] = (code, output)
        _clean(" ".join(args), output)
    assert seen[("adopt", p, "--yes")][0] == 0 and "Adopt complete: 1 recorded" in seen[("adopt", p, "--yes")][1]
    listed = seen[("state", "list", p)][1]
    assert "\\x1b[31m\\r\\u202e\\u2028|`x`\\nFORGED line" in listed  # shown, escaped, on one line
    assert seen[("state", "show", f"thumbs/{stem}.webp", p)][0] == 0
    assert "Forgetting 1 recorded output(s)" in seen[("state", "rm", p, "--key", f"thumbs/{stem}.webp")][1]
    assert "Destroy complete: 2 deleted" in seen[("destroy", "shop", p, "--yes")][1]


def test_a_hostile_owner_file_name_is_escaped_in_the_warning(server: LocalServer, tmp_path: Path) -> None:
    backend = Backend(endpoint=server.endpoint, secret_id=server.secret_id, secret_key=server.secret_key)
    backend.storage(REGION).put_object(SRC, PLAIN, jpeg())
    backend.storage(REGION).put_object(SRC, ".cosrecon/_owners/z\x1b[2J\u202e\nFORGED.json", b"{not json")
    path = tmp_path / "shop.yaml"
    path.write_text(DECL, encoding="utf-8")
    code, output = _run(server, "plan", str(path))
    assert code == 0, output
    _clean("plan", output)
    assert "Warning:" in output and "cosrecon state set-aside _owners/z\\x1b[2J\\u202e\\nFORGED.json" in output
