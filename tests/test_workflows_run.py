"""examples/github-actions run as written: their install and run steps, against the local server.

A wheel is built from this checkout (as ``make dist`` builds it, but offline: ``--no-build-isolation``) and
installed into a fresh virtual environment by the workflows' own ``Install cosrecon`` step, with
``COSRECON_PACKAGE`` set to the wheel. To stay offline and fast, that environment is made ``--without-pip``: its
``pip`` is this environment's pip aimed at it (``pip --python``), and the dependencies it would download are
already importable from this environment (a ``.pth`` to a copy of site-packages without cosrecon itself), so
pip installs cosrecon from the wheel and finds every dependency satisfied.

Skipped, because they are not shell lines: ``uses:`` steps (checkout, setup-python, upload-artifact and the
github-script comment), and the apply workflow's ``Download the reviewed plan`` step (it asks the GitHub API for
the pull request's plan artifact); the plan workflow's ``plan.json`` stands in for the artifact it downloads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.ops.compose import Backend
from reconciler.local import LocalServer
from reconciler.render.markdown import MARKER

from apply.conftest import jpeg

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "examples" / "github-actions" / ".github" / "workflows"
SRC = "shop-1250000000"
REGION = "ap-guangzhou"
DECLARATION = f"""\
version: 1
name: shop
region: {REGION}
bucket: {SRC}
pipelines:
  products:
    source:
      include: ["products/**/*.jpg"]
    outputs:
      thumb:
        rule: imageMogr2/thumbnail/32x/format/webp
        fileid: /thumbs/{{reldir}}/{{stem}}.webp
"""
NOT_SHELL = {"Find the reviewed plan", "Post the new plan and stop"}  # they need the GitHub API


def _venv_with_wheel_pip(tmp: Path) -> Path:
    """A fresh venv whose ``pip`` installs into it offline, with cosrecon's dependencies importable."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    deps = tmp / "deps"
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("cosrecon", "__editable__", "reconciler")) or name.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    target_site = next((venv / "lib").glob("python3*/site-packages"))
    (target_site / "dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    pip = venv / "bin" / "pip"
    pip.write_text(f"#!/bin/sh\nexec {sys.executable} -m pip --python {venv / 'bin' / 'python'} \"$@\"\n",
                   encoding="utf-8")
    pip.chmod(0o755)
    return venv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--wheel-dir", str(out), str(ROOT)], check=True, cwd=build,
                   env={**os.environ, "PIP_FIND_LINKS": ""}, capture_output=True)
    (found,) = out.glob("cosrecon-*.whl")
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC], ci_qps=0, seed=3).start()
    try:
        yield srv
    finally:
        srv.stop()


def _jobs(name: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    jobs: dict[str, Any] = data["jobs"]
    return jobs


def _steps(name: str, job: str | None = None) -> list[dict[str, Any]]:
    """The shell steps of ``job`` (every job in order when None), without those that need the GitHub API."""
    jobs = _jobs(name)
    steps = [s for j, spec in jobs.items() if job in (None, j) for s in spec["steps"]]
    return [s for s in steps if "run" in s and s.get("name") not in NOT_SHELL]


_CONDITION = re.compile(r"^steps\.(\w+)\.outputs\.(\w+) (==|!=) '([^']*)'$")


def _wanted(step: dict[str, Any], outputs: dict[str, dict[str, str]]) -> bool:
    """A step's ``if:`` as GitHub reads it, for the one form these workflows' shell steps use
    (``steps.<id>.outputs.<name> == '<value>'`` or ``!=``); a step without one runs."""
    condition = step.get("if")
    if condition is None:
        return True
    found = _CONDITION.match(str(condition))
    assert found is not None, f"a condition the test cannot read: {condition!r}"
    step_id, name, op, value = found.groups()
    actual = outputs.get(step_id, {}).get(name, "")
    return (actual == value) if op == "==" else (actual != value)


class Ran(dict[str, subprocess.CompletedProcess[str]]):
    """The steps run, by name, and each step's outputs by id (``outputs``)."""

    outputs: dict[str, dict[str, str]]


def _run_steps(name: str, workdir: Path, env: dict[str, str], job: str | None = None) -> Ran:
    """Each shell step as GitHub runs it (``bash -e``, its own ``$GITHUB_OUTPUT``, its ``if:``), stopping at the
    first that fails."""
    ran = Ran()
    ran.outputs = {}
    for i, step in enumerate(_steps(name, job)):
        if not _wanted(step, ran.outputs):
            continue
        output = workdir.parent / f"github_output_{i}"
        output.write_text("", encoding="utf-8")
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=workdir,
                                env={**env, "GITHUB_OUTPUT": str(output)}, text=True, capture_output=True,
                                timeout=300)
        ran[step.get("name", step["run"])] = result
        assert result.returncode == 0, f"{name}: step {step.get('name') or step['run']!r} failed:\n{result.stderr}"
        if "id" in step:
            ran.outputs[step["id"]] = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return ran


def _setup(tmp_path: Path, wheel: Path, server: LocalServer, declaration: str = DECLARATION,
           keys: tuple[str, ...] = ("products/a.jpg", "products/shoes/b.jpg")) -> tuple[Path, dict[str, str], Any]:
    venv = _venv_with_wheel_pip(tmp_path)
    repo = tmp_path / "repo"
    (repo / "declarations").mkdir(parents=True)
    (repo / "declarations" / "shop.yaml").write_text(declaration, encoding="utf-8")
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    for key in keys:
        storage.put_object(SRC, key, jpeg())
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "COSRECON_PACKAGE": str(wheel), "COSRECON_ENDPOINT": server.endpoint, "PIP_NO_INDEX": "1",
           "PR_HEAD_SHA": "1234abcd", "TENCENTCLOUD_SECRET_ID": server.secret_id,
           "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    return repo, env, storage


def _reviewed(repo: Path) -> None:
    """What ``Find the reviewed plan`` downloads: the pull request's saved plan, as reviewed/plan.json."""
    (repo / "reviewed").mkdir(exist_ok=True)
    (repo / "reviewed" / "plan.json").write_bytes((repo / "plan.json").read_bytes())


def test_workflows_install_and_run_as_written(tmp_path: Path, wheel: Path, server: LocalServer) -> None:
    repo, env, storage = _setup(tmp_path, wheel, server)
    ran = _run_steps("cosrecon-plan.yml", repo, env)
    assert "cosrecon, version 0.1.0" in ran["Install cosrecon"].stdout
    assert "Valid: 1 set" in ran["Validate"].stdout
    assert (repo / "preview" / "index.html").exists() and "products.thumb" in (repo / "preview-table.md").read_text()
    body = (repo / "plan.md").read_text(encoding="utf-8")  # what the comment step posts, unchanged
    assert "`cosrecon-plan-1234abcd` (the full saved plan)" in body and "actions/runs/0" in body
    assert (tmp_path / "venv" / "bin" / "cosrecon").exists()  # the wheel's console script, not this checkout's
    assert ran.outputs["plan"] == {"head": "1234abcd", "exitcode": "2"}  # changes present
    assert body.startswith(MARKER) and (repo / "plan.json").exists()

    _reviewed(repo)
    ran = _run_steps("cosrecon-apply.yml", repo, env)
    assert ran.outputs["fresh"] == {"beyond": "false"}
    assert "Within the reviewed plan reviewed/plan.json" in ran["Plan on the merge commit"].stderr
    assert "2 created" in ran["Apply"].stdout, ran["Apply"].stdout
    assert {o.key for o in storage.list_objects(SRC, "thumbs/")} == {"thumbs/a.webp", "thumbs/shoes/b.webp"}

    ran = _run_steps("cosrecon-plan.yml", repo, env)
    assert ran.outputs["plan"]["exitcode"] == "0" and "Preview" not in ran  # converged: no changes, no preview


def test_apply_applies_less_than_reviewed_but_never_more(tmp_path: Path, wheel: Path, server: LocalServer) -> None:
    """Issue 26 point 5: two pull requests reviewed in parallel. The first merged applies; the second's reviewed
    plan does not cover what the merge commit declares: apply plans again on it, finds more than was reviewed, posts
    that plan (the GitHub API step, not run here) and applies nothing — instead of "merge again". A fresh plan that
    does less than the reviewed one (a source went since) is applied."""
    repo, env, storage = _setup(tmp_path, wheel, server)
    _run_steps("cosrecon-plan.yml", repo, env, job="plan")
    _reviewed(repo)  # PR A's plan: thumbs for a.jpg and shoes/b.jpg
    storage.delete_object(SRC, "products/shoes/b.jpg")  # less: b.jpg went before the merge
    ran = _run_steps("cosrecon-apply.yml", repo, env)
    assert ran.outputs["fresh"] == {"beyond": "false"} and "1 created" in ran["Apply"].stdout
    # PR B, reviewed against the same ledger, adds an output; merged after A, its plan on main does more
    (repo / "declarations" / "shop.yaml").write_text(
        DECLARATION + "      small:\n        rule: imageMogr2/thumbnail/16x/format/png\n"
                      "        fileid: /small/{reldir}/{stem}.png\n", encoding="utf-8")
    storage.put_object(SRC, "products/c.jpg", jpeg())  # and a source came since the review
    ran = _run_steps("cosrecon-apply.yml", repo, env)
    assert ran.outputs["fresh"] == {"beyond": "true"} and "Apply" not in ran
    assert not list(storage.list_objects(SRC, "small/")) and not storage.head_object(SRC, "thumbs/c.webp")
    body = (repo / "fresh.md").read_text(encoding="utf-8")
    assert "Beyond review: this plan does 3 thing(s) the reviewed plan reviewed/plan.json does not" in body
    assert "**Not applied.**" in body and "plan_artifact: cosrecon-plan-" in body and len(body) <= 65_535
    post = next(s for s in _jobs("cosrecon-apply.yml")["apply"]["steps"] if s.get("name") == "Post the new plan and stop")
    assert post["if"] == "steps.fresh.outputs.beyond == 'true'"
    assert "gh pr comment" in post["run"] and "gh issue create" in post["run"] and post["run"].rstrip().endswith("exit 1")


def test_fork_pull_requests_are_validated_without_secrets_and_planned_on_demand(tmp_path: Path, wheel: Path,
                                                                                 server: LocalServer) -> None:
    repo, env, _ = _setup(tmp_path, wheel, server)
    summary = tmp_path / "summary.md"
    fork_env = {k: v for k, v in env.items() if not k.startswith("TENCENTCLOUD_")}  # forks get no secrets
    ran = _run_steps("cosrecon-plan.yml", repo, {**fork_env, "FORK": "true", "PR": "7",
                                                 "GITHUB_STEP_SUMMARY": str(summary)}, job="validate")
    assert "Valid: 1 set" in ran["Validate"].stdout
    assert "::notice::Pull request from a fork" in ran["Note for a pull request from a fork"].stdout
    assert "Run workflow, pr: 7" in summary.read_text(encoding="utf-8")
    jobs = _jobs("cosrecon-plan.yml")
    assert "secrets." not in str(jobs["validate"]["env"]).replace("secrets.COSRECON_INSTALL_TOKEN", "")
    assert jobs["plan"]["if"] == ("github.event_name == 'workflow_dispatch' || "
                                  "github.event.pull_request.head.repo.full_name == github.repository")
    text = (WORKFLOWS / "cosrecon-plan.yml").read_text(encoding="utf-8")
    on = YAML(typ="safe").load(text)["on"]
    assert set(on) == {"pull_request", "workflow_dispatch"} and on["pull_request"] is None  # every push, no paths
    for name in ("cosrecon-plan.yml", "cosrecon-apply.yml"):
        assert "pull_request_target" not in YAML(typ="safe").load((WORKFLOWS / name).read_text())["on"]


def test_a_private_package_host_gets_the_token_from_secrets(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COSRECON_INSTALL_TOKEN": "s3cret-token",
           "COSRECON_PACKAGE": "cosrecon @ git+https://git.example.internal/org/cosrecon@v0.1.0"}
    for name in ("cosrecon-plan.yml", "cosrecon-apply.yml"):
        for job, spec in _jobs(name).items():
            assert spec["env"]["COSRECON_INSTALL_TOKEN"] == "${{ secrets.COSRECON_INSTALL_TOKEN }}"
            steps = [s for s in _steps(name, job) if s.get("name") == "Credentials for a private package host"]
            (step,) = steps
            result = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path / "repo", env=env,
                                    text=True, capture_output=True, check=True)
            assert "s3cret-token" not in result.stdout + result.stderr
            netrc = tmp_path / ".netrc"
            assert netrc.read_text() == "machine git.example.internal login x-access-token password s3cret-token\n"
            assert netrc.stat().st_mode & 0o777 == 0o600
            netrc.unlink()


def test_workflows_say_where_cosrecon_comes_from() -> None:
    for name in ("cosrecon-plan.yml", "cosrecon-apply.yml"):
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert "pip install cosrecon\n" not in text  # no such package on PyPI
        assert 'pip install "$COSRECON_PACKAGE"' in text
        assert "$COSRECON_PLAN_FLAGS" in text and "vars.COSRECON_PLAN_FLAGS" in text  # apply repeats the plan's flags


def test_the_plan_comment_of_a_hundred_thousand_actions_stays_under_githubs_limit(
        tmp_path: Path, wheel: Path, server: LocalServer) -> None:
    """Issue 26 point 1: 1,000 sources x 100 outputs = 100,000 creations; the Plan step as written makes the body the
    comment step posts (plan.md, unchanged): within 65,535 characters, with the estimate and the artifact link."""
    venv = _venv_with_wheel_pip(tmp_path)
    repo = tmp_path / "repo"
    (repo / "declarations").mkdir(parents=True)
    outputs = "".join(f"      out{i:03d}:\n        rule: imageMogr2/thumbnail/{i + 10}x\n"
                      f"        fileid: /o{i:03d}/{{reldir}}/{{stem}}-with-a-longer-name-for-longer-keys.jpg\n"
                      for i in range(100))
    (repo / "declarations" / "shop.yaml").write_text(DECLARATION.split("    outputs:\n")[0] + "    outputs:\n" + outputs,
                                                     encoding="utf-8")
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    image = jpeg()
    for i in range(1000):
        storage.put_object(SRC, f"products/p{i:04d}.jpg", image)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out"),
           "COSRECON_PACKAGE": str(wheel), "COSRECON_ENDPOINT": server.endpoint, "PIP_NO_INDEX": "1",
           "PR_HEAD_SHA": "1234abcd",
           "TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    install, plan = (s for s in _steps("cosrecon-plan.yml", "plan") if s.get("name") in ("Install cosrecon", "Plan"))
    for step in (install, plan):
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                                env=env, text=True, capture_output=True, timeout=300)
        assert result.returncode == 0, result.stderr
    body = (repo / "plan.md").read_text(encoding="utf-8")
    assert "Plan: 100000 to create" in body
    assert len(body) <= 65_535, len(body)
    assert "**Estimate**" in body and "total: 20000 calls" in body  # five rules a call
    assert body.rstrip().endswith("(sample before/after images: open index.html).")
    assert "lists are cut" in body
