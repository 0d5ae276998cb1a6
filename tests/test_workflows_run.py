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
NOT_SHELL = {"Download the reviewed plan"}


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


def _steps(name: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    (job,) = data["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return [s for s in steps if "run" in s and s.get("name") not in NOT_SHELL]


def _run_steps(name: str, workdir: Path, env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Each shell step as GitHub runs it (``bash -e``), stopping at the first that fails."""
    done = []
    for step in _steps(name):
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=workdir,
                                env=env, text=True, capture_output=True, timeout=120)
        done.append(result)
        assert result.returncode == 0, f"{name}: step {step.get('name') or step['run']!r} failed:\n{result.stderr}"
    return done


def test_workflows_install_and_run_as_written(tmp_path: Path, wheel: Path, server: LocalServer) -> None:
    venv = _venv_with_wheel_pip(tmp_path)
    repo = tmp_path / "repo"
    (repo / "declarations").mkdir(parents=True)
    (repo / "declarations" / "shop.yaml").write_text(DECLARATION, encoding="utf-8")
    storage = Backend(endpoint=server.endpoint, secret_id=server.secret_id,
                      secret_key=server.secret_key).storage(REGION)
    for key in ("products/a.jpg", "products/shoes/b.jpg"):
        storage.put_object(SRC, key, jpeg())
    outputs = tmp_path / "github_output"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_OUTPUT": str(outputs),
           "COSRECON_PACKAGE": str(wheel), "COSRECON_ENDPOINT": server.endpoint, "PIP_NO_INDEX": "1",
           "TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}

    install, plan, preview = _run_steps("cosrecon-plan.yml", repo, env)
    assert "cosrecon, version 0.1.0" in install.stdout
    assert (repo / "preview" / "index.html").exists() and "products.thumb" in (repo / "preview-table.md").read_text()
    assert "`cosrecon-preview` artifact" in (repo / "plan.md").read_text(encoding="utf-8")
    assert (venv / "bin" / "cosrecon").exists()  # the wheel's console script, not this checkout's
    assert outputs.read_text(encoding="utf-8").splitlines() == ["exitcode=2"]  # changes present
    assert (repo / "plan.md").read_text(encoding="utf-8").startswith(MARKER)
    assert (repo / "plan.json").exists()

    install, apply = _run_steps("cosrecon-apply.yml", repo, env)
    assert "2 created" in apply.stdout, apply.stdout
    assert {o.key for o in storage.list_objects(SRC, "thumbs/")} == {"thumbs/a.webp", "thumbs/shoes/b.webp"}

    outputs.unlink()
    _run_steps("cosrecon-plan.yml", repo, env)
    assert outputs.read_text(encoding="utf-8").splitlines() == ["exitcode=0"]  # converged: no changes


def test_workflows_say_where_cosrecon_comes_from() -> None:
    for name in ("cosrecon-plan.yml", "cosrecon-apply.yml"):
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert "pip install cosrecon\n" not in text  # no such package on PyPI
        assert 'pip install "$COSRECON_PACKAGE"' in text
