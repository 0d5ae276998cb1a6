"""``-v/--verbose``: requests, lock events and timings on stderr, the traceback behind an internal error; never a
secret (the COS SDK's own DEBUG lines, which carry keys, tokens and signed headers, stay off)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from reconciler.cli import main
from reconciler.cli.logs import configure_logging
from reconciler.local import LocalServer
from reconciler.ops.compose import Backend
from tests import builders

BUCKET = "verbose-1250000000"
SECRET_ID = "AKIDverboseTEST00000000000000000000"
SECRET_KEY = "verboseSecretKeyNeverLogged0000"
TOKEN = "verboseSessionTokenNeverLogged0000"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[BUCKET], ci_qps=0, secret_id=SECRET_ID, secret_key=SECRET_KEY,
                      token=TOKEN).start()
    try:
        yield srv
    finally:
        srv.stop()
        configure_logging(False)  # the next test starts quiet


def _declaration(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(json.dumps(builders.declaration_data(
        "shop", bucket=BUCKET, include=["photos/*.jpg"],
        outputs={"thumb": {"rule": "imageMogr2/thumbnail/16x", "fileid": "/thumbs/{stem}.jpg"}})))
    return path


def _run(server: LocalServer, *args: str) -> tuple[int, str, str]:
    env = {"TENCENTCLOUD_SECRET_ID": SECRET_ID, "TENCENTCLOUD_SECRET_KEY": SECRET_KEY,
           "TENCENTCLOUD_SECURITY_TOKEN": TOKEN}
    result = CliRunner().invoke(main, [*args, "--endpoint", server.endpoint], env=env)
    return result.exit_code, result.stdout, result.stderr


def _seed(server: LocalServer) -> None:
    image = io.BytesIO()
    Image.new("RGB", (32, 24), "red").save(image, "JPEG")
    backend = Backend(endpoint=server.endpoint, secret_id=SECRET_ID, secret_key=SECRET_KEY, token=TOKEN)
    backend.storage("ap-guangzhou").put_object(BUCKET, "photos/a.jpg", image.getvalue())


def test_verbose_apply_logs_requests_locks_and_timings_and_never_a_secret(server: LocalServer,
                                                                          tmp_path: Path) -> None:
    _seed(server)
    code, out, err = _run(server, "-v", "apply", "--yes", str(_declaration(tmp_path)))
    assert code == 0 and "1 created" in out, out + err
    assert "reconciler.storage.cos: list verbose-1250000000/'photos/': ok (" in err  # a request, outcome, time
    assert "image_process verbose-1250000000/'photos/a.jpg': ok (" in err
    assert "ledger.jsonl': 404 NoSuchKey" in err  # a refused request says why
    assert "set 'shop': lock " in err and " taken (apply" in err and " released" in err  # lock events
    assert "planned 1 set(s) in" in err and "apply ran in" in err  # timings
    for secret in (SECRET_KEY, TOKEN):
        assert secret not in out and secret not in err
    assert "qcloud_cos" not in err  # the SDK's DEBUG lines (signing keys, tokens, headers) stay off


def test_quiet_by_default(server: LocalServer, tmp_path: Path) -> None:
    _seed(server)
    code, out, err = _run(server, "apply", "--yes", "--quiet", str(_declaration(tmp_path)))
    assert code == 0, out + err
    assert "reconciler." not in err and "DEBUG" not in err


def test_an_internal_error_shows_its_traceback_with_verbose_only(server: LocalServer, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import reconciler.cli.apply as apply_command

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError(f"boom near {SECRET_KEY}")

    monkeypatch.setattr(apply_command, "apply", broken)
    code, _, err = _run(server, "apply", "--yes", str(_declaration(tmp_path)))
    assert code == 1 and "internal error (RuntimeError" in err and "-v shows its traceback" in err
    assert "Traceback" not in err and SECRET_KEY not in err
    code, _, err = _run(server, "-v", "apply", "--yes", str(_declaration(tmp_path)))
    assert code == 1 and "Traceback (most recent call last)" in err and "in broken" in err
    assert SECRET_KEY not in err


def test_retries_are_logged(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from reconciler.errors import StorageError
    from reconciler.pacing import RetryPolicy, with_retries

    monkeypatch.setattr(logging.getLogger("reconciler"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="reconciler.pacing")
    replies = iter([StorageError("slow down", code="SlowDown", retryable=True), None])

    def flaky() -> str:
        error = next(replies)
        if error is not None:
            raise error
        return "made"

    assert with_retries(flaky, RetryPolicy(attempts=3), sleep=lambda _: None) == "made"
    assert "retry 1/2 in " in caplog.text and "after SlowDown" in caplog.text
