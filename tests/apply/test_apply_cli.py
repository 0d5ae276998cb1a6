"""`cosrecon apply/adopt/unlock` through click and as a real process: confirmation, saved plans, JSON reports,
failures and throttling, kill -9 mid-apply, concurrent applies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.cli import main
from reconciler.declare.load import load_declarations
from reconciler.local import LocalServer

from tests.apply.conftest import REGION, SRC, declaration, keys, make_plan, process_calls, seed, slowdowns

ROOT = Path(__file__).resolve().parents[2]
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
        rule: {rule}
        fileid: /thumbs/{{reldir}}/{{stem}}.webp
      png:
        rule: imageMogr2/format/png
        fileid: /png/{{reldir}}/{{stem}}.png
"""


def write_decl(tmp_path: Path, rule: str = "imageMogr2/thumbnail/32x/format/webp") -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(DECL.format(rule=rule))
    return path


def run(server: LocalServer, *args: str) -> tuple[int, str, str]:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    result = CliRunner().invoke(main, [*args, "--endpoint", server.endpoint], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_apply_yes_then_converged(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "photos/b.jpg"])
    path = write_decl(tmp_path)
    code, out, err = run(server, "apply", str(path))
    assert code == 1 and "--yes" in err  # no terminal: refuses, changes nothing
    assert process_calls(server) == 0
    code, out, err = run(server, "apply", str(path), "--yes", "--max-qps", "0")
    assert code == 0, err
    assert "Apply complete: 4 created, 0 replaced, 0 deleted, 0 failed; 2 calls in" in out
    code, out, err = run(server, "apply", str(path), "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["summary"]["calls"] == 0 and report["failures"] == []
    assert process_calls(server) == 2


def test_budget_guards_refuse_before_starting(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg", "photos/b.jpg"])
    code, out, err = run(server, "apply", str(write_decl(tmp_path)), "--yes", "--max-calls", "1")
    assert code == 1 and "--max-calls allows 1" in err
    assert process_calls(server) == 0


def test_saved_plan_applied_and_stale_one_refused(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    from reconciler.plan.planfile import save_plan

    seed(backend, ["photos/a.jpg"])
    path = write_decl(tmp_path)
    [decl] = load_declarations([path])
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    save_plan(make_plan([decl], backend), first)
    save_plan(make_plan([decl], backend), second)
    code, out, err = run(server, "apply", "--plan", str(first), str(path))
    assert code == 0, err
    assert "2 created" in out
    code, out, err = run(server, "apply", "--plan", str(second), str(path))  # the ledger moved since
    assert code == 1 and "ledger changed since the plan" in err
    save_plan(make_plan([decl], backend), second)
    write_decl(tmp_path, rule="imageMogr2/thumbnail/16x/format/webp")
    code, out, err = run(server, "apply", "--plan", str(second), str(path))  # the declaration changed since
    assert code == 1 and "different declaration" in err
    assert process_calls(server) == 1


@pytest.mark.usefixtures("instant_retries")
def test_throttling_storm_converges(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, [f"photos/{i}.jpg" for i in range(12)])
    server.set_faults(throttle_rate=0.3)
    code, out, err = run(server, "apply", str(write_decl(tmp_path)), "--yes", "--max-qps", "0", "--parallelism", "4")
    assert code == 0, err
    assert "24 created" in out and "0 failed" in out
    assert slowdowns(server) > 0
    server.set_faults(throttle_rate=0.0)
    before = process_calls(server)
    code, out, err = run(server, "apply", str(write_decl(tmp_path)), "--yes")
    assert code == 0 and "0 calls" in out and process_calls(server) == before


@pytest.mark.usefixtures("instant_retries")
def test_failures_reported_then_fixed(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, [f"photos/{i}.jpg" for i in range(6)])
    server.set_faults(fail_rate=1.0)
    path = write_decl(tmp_path)
    code, out, err = run(server, "apply", str(path), "--yes", "--max-qps", "0", "--format", "json")
    assert code == 1 and "failed" in err
    report = json.loads(out)
    assert report["summary"]["failed"] == 12 and report["summary"]["created"] == 0
    failure = report["failures"][0]
    assert failure["code"] == "InternalError" and failure["request_id"] and failure["key"]
    server.set_faults(fail_rate=0.0)
    code, out, err = run(server, "apply", str(path), "--yes", "--max-qps", "0")
    assert code == 0 and "12 created" in out
    assert not make_plan([declaration()], backend).has_changes


def test_adopt_and_unlock(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg"])
    backend.storage(REGION).put_object(SRC, "png/a.png", b"made elsewhere")
    path = write_decl(tmp_path)
    code, out, err = run(server, "adopt", str(path), "--yes")
    assert code == 0 and "Adopt complete: 1 recorded" in out, err
    decl = declaration()
    held = backend.ledgers.acquire(decl, lease=600)
    code, out, err = run(server, "apply", str(path), "--yes")
    assert code == 1 and held.info.id in err and "locked by" in err
    code, out, err = run(server, "unlock", held.info.id, str(path))
    assert code == 0 and "Unlocked" in out
    code, out, err = run(server, "apply", str(path), "--yes")
    assert code == 0 and "1 created" in out  # the adopted output is not remade


def _apply_process(server: LocalServer, path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key,
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "reconciler", "apply", str(path), "--yes", "--endpoint",
                             server.endpoint, "--max-qps", "0", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_apply_then_rerun_converges(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, [f"photos/{i:02d}.jpg" for i in range(40)])
    path = write_decl(tmp_path)
    server.set_faults(latency_ms=150)
    proc = _apply_process(server, path, "--parallelism", "4")
    deadline = time.monotonic() + 30
    while process_calls(server) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    server.set_faults(latency_ms=0)
    # calls already inside the server finish after the kill, as in the cloud: plan once they have landed
    made, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 0.6 and time.monotonic() < deadline:
        now = len(keys(backend, SRC, "thumbs/")) + len(keys(backend, SRC, "png/"))
        if now != made:
            made, stable_since = now, time.monotonic()
        time.sleep(0.1)
    assert 0 < made < 80
    plan = make_plan([declaration()], backend)
    from reconciler.model import ActionKind

    assert plan.count(ActionKind.CONFLICT) == 0  # the killed run's outputs are its own, not unmanaged
    remaining = plan.calls
    proc = _apply_process(server, path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "0 failed" in out and "took over" in out  # the dead holder's lock
    assert f"; {remaining} calls in" in out
    final = make_plan([declaration()], backend)
    assert not final.has_changes
    assert not keys(backend, SRC, ".cosrecon/shop/journal/")


def test_two_concurrent_applies(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, [f"photos/{i:02d}.jpg" for i in range(12)])
    path = write_decl(tmp_path)
    server.set_faults(latency_ms=1000)  # the first apply runs ~6 s: the second, even slow to start, finds it locked
    first = _apply_process(server, path, "--parallelism", "2")
    deadline = time.monotonic() + 30
    while process_calls(server) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    second = _apply_process(server, path, "--lock-timeout", "60s")
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "24 created" in out1
    assert "Waiting up to 60s for lock" in err2 and "0 calls" in out2
    assert process_calls(server) == 12  # nothing processed twice


def test_confirmation_on_a_terminal(server: LocalServer, backend: Backend, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import reconciler.cli.running as running_module

    monkeypatch.setattr(running_module, "_interactive", lambda: True)
    seed(backend, ["photos/a.jpg"])
    path = write_decl(tmp_path)
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    args = ["apply", str(path), "--endpoint", server.endpoint]
    declined = CliRunner().invoke(main, args, env=env, input="n\n")
    assert declined.exit_code == 1 and "Apply these changes?" in declined.stderr and "cancelled" in declined.stderr
    assert "Plan: 2 to create" in declined.stdout and process_calls(server) == 0
    accepted = CliRunner().invoke(main, args, env=env, input="y\n")
    assert accepted.exit_code == 0 and "2 created" in accepted.stdout and process_calls(server) == 1
    converged = CliRunner().invoke(main, args, env=env)  # nothing to do: no question asked
    assert converged.exit_code == 0 and "Apply these changes?" not in converged.stderr
