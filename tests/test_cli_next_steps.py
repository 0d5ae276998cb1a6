"""Issue 26 point 6 (errors): every error that reaches a user names its cause and the next step — a refused
connection names the endpoint and how to start the local server, a refused signature the credential variables, a
missing bucket the declaration's ``bucket:`` line (file:line:col) — and ``cosrecon local bucket create`` makes a
bucket on a running server (PUT Bucket through the SDK)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.local import LocalServer

DECLARATION = """\
version: 1
name: shop
region: ap-guangzhou
bucket: {bucket}
pipelines:
  p:
    source:
      include: ["a/*.jpg"]
    outputs:
      t:
        rule: imageMogr2/thumbnail/32x
        fileid: /t/{{name}}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=["there-1250000000"], ci_qps=0).start()
    try:
        yield srv
    finally:
        srv.stop()


def declaration(tmp_path: Path, bucket: str) -> str:
    path = tmp_path / "shop.yaml"
    path.write_text(DECLARATION.format(bucket=bucket), encoding="utf-8")
    return str(path)


def cosrecon(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_names_the_endpoint_and_how_to_start_the_local_server(tmp_path: Path) -> None:
    port = free_port()
    result = cosrecon({"TENCENTCLOUD_SECRET_ID": "id", "TENCENTCLOUD_SECRET_KEY": "key"}, "plan", "--endpoint",
                      f"http://127.0.0.1:{port}", declaration(tmp_path, "there-1250000000"))
    assert result.exit_code == 1
    assert f"cannot connect to 127.0.0.1:{port} (connection refused)" in result.output
    assert f"is the local server running? Start it in another terminal with `cosrecon local serve --port {port}`" \
        in result.output


def test_a_refused_signature_names_the_credential_variables(tmp_path: Path, server: LocalServer) -> None:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": "not-the-key"}
    result = cosrecon(env, "plan", "--endpoint", server.endpoint, declaration(tmp_path, "there-1250000000"))
    assert result.exit_code == 1 and "SignatureDoesNotMatch" in result.output
    assert "check TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY" in result.output
    assert "not-the-key" not in result.output


def test_a_missing_bucket_points_at_the_bucket_line_and_local_bucket_create_makes_it(tmp_path: Path,
                                                                                     server: LocalServer) -> None:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    path = declaration(tmp_path, "missing-1250000000")
    result = cosrecon(env, "plan", "--endpoint", server.endpoint, path)
    assert result.exit_code == 1 and "NoSuchBucket" in result.output
    assert f"declared at {path}:4:9: bucket: missing-1250000000" in result.output
    assert "`cosrecon local bucket create missing-1250000000` makes it" in result.output
    made = cosrecon(env, "local", "bucket", "create", "missing-1250000000", "--endpoint", server.endpoint)
    assert made.exit_code == 0 and "Bucket missing-1250000000 created" in made.output
    again = cosrecon(env, "local", "bucket", "create", "missing-1250000000", "--endpoint", server.endpoint)
    assert again.exit_code == 0 and "already exists" in again.output
    planned = cosrecon(env, "plan", "--endpoint", server.endpoint, path)
    assert planned.exit_code == 0, planned.output
    bad = cosrecon(env, "local", "bucket", "create", "Bad_Name", "--endpoint", server.endpoint)
    assert bad.exit_code == 1 and "bucket names are lower-case" in bad.output
