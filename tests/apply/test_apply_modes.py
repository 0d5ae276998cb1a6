"""apply with the ledger in a local folder (--state-dir), on the embedded server (--local), and the handling of
credentials: missing ones get a clear message, wrong ones a COS error, and no secret ever appears in output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.errors import StorageError, UsageError
from reconciler.local import LocalServer
from reconciler.storage.cos import CosStorage

from tests.apply.conftest import REGION, SRC, jpeg, process_calls
from test_apply_cli import write_decl

SECRET = "s3cr3t-KEY-that-must-never-show-0000"


def test_state_dir_keeps_the_ledger_locally(server: LocalServer, tmp_path: Path) -> None:
    storage = CosStorage(region=REGION, endpoint=server.endpoint, secret_id=server.secret_id,
                         secret_key=server.secret_key)
    storage.put_object(SRC, "photos/a.jpg", jpeg())
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    args = ["apply", str(write_decl(tmp_path)), "--yes", "--endpoint", server.endpoint,
            "--state-dir", str(tmp_path / "state")]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.stderr
    header = json.loads((tmp_path / "state" / "shop" / "ledger.jsonl").read_text().split("\n")[0])
    assert header["format_version"] == 1 and header["count"] == 2
    assert not [o for o in storage.list_objects(SRC, ".cosrecon/")]  # nothing written to COS
    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 0 and "0 calls" in again.stdout and process_calls(server) == 1


def test_local_flag_runs_the_embedded_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "COSRECON_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with LocalServer(tmp_path / ".cosrecon" / "local", buckets=[SRC]) as srv:  # seed, as `local import` would
        CosStorage(region=REGION, endpoint=srv.endpoint, secret_id=srv.secret_id,
                   secret_key=srv.secret_key).put_object(SRC, "photos/a.jpg", jpeg())
    path = write_decl(tmp_path)
    result = CliRunner().invoke(main, ["apply", str(path), "--yes", "--local"])
    assert result.exit_code == 0, result.stderr
    assert "2 created" in result.stdout
    result = CliRunner().invoke(main, ["apply", str(path), "--yes", "--local"])
    assert result.exit_code == 0 and "0 calls" in result.stdout


def test_missing_credentials_are_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID", raising=False)
    monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY", raising=False)
    with pytest.raises(UsageError, match="TENCENTCLOUD_SECRET_ID"):
        CosStorage(region=REGION)


def test_wrong_secret_is_reported_with_code_and_never_shown(server: LocalServer, tmp_path: Path) -> None:
    storage = CosStorage(region=REGION, endpoint=server.endpoint, secret_id=server.secret_id, secret_key=SECRET)
    with pytest.raises(StorageError) as caught:
        storage.head_object(SRC, "x")
    assert caught.value.status == 403 and caught.value.code
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, ["apply", str(write_decl(tmp_path)), "--yes", "--endpoint", server.endpoint],
                                env=env)
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "403" in result.stderr and "Traceback" not in result.stderr
    assert SECRET not in result.stdout + result.stderr
