"""``apply --via batch``: the plan handed to Cloud Infinite batch jobs, emulated by the local server's job API, with 0
direct image_process calls; a kill -9 between submission and completion; cancelled jobs; refusals before any
request; ``cosrecon jobs``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reconciler.local import LocalServer
from reconciler.model import ActionKind
from reconciler.ops.compose import Backend

from tests.apply.conftest import SRC, declaration, keys, make_plan, process_calls
from tests.apply.test_apply_cli import ROOT, run
from tests.apply.test_backfill import seed_many

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
        rule: imageMogr2/thumbnail/8x/format/webp
        fileid: /thumbs/{dir}/{stem}.webp
      png:
        rule: imageMogr2/format/png
        fileid: small/{stem}.png
"""
OUTPUTS = {"thumb": {"rule": "imageMogr2/thumbnail/8x/format/webp", "fileid": "/thumbs/{dir}/{stem}.webp"},
           "png": {"rule": "imageMogr2/format/png", "fileid": "small/{stem}.png"}}


def write_decl(tmp_path: Path, text: str = DECL) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    return path


def stat(server: LocalServer, name: str) -> int:
    return int(server.stats().get(name, 0))


def wait_for(predicate: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_batch_converges_with_no_direct_call(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed_many(server, [f"photos/{d}/{i}.jpg" for d in "ab" for i in range(10)])
    path = write_decl(tmp_path)
    code, out, err = run(server, "apply", str(path), "--yes", "--via", "batch", "--queue", "q1", "--wait")
    assert code == 0, err
    assert "40 created" in out
    assert process_calls(server) == 0  # no image_process: the jobs made everything
    assert stat(server, "ci_create_inventory_trigger_jobs") == 2  # one job per output definition
    assert stat(server, "batch_job_object") == 40
    assert keys(backend, SRC, "thumbs/") == {f"thumbs/photos/{d}/{i}.webp" for d in "ab" for i in range(10)}
    assert not make_plan([declaration(outputs=OUTPUTS)], backend).has_changes
    code, out, err = run(server, "jobs", str(path))
    assert code == 0, err
    assert out.count("Success") == 2 and "photos.thumb" in out and "photos.png" in out


def test_batch_refuses_a_template_the_job_cannot_express(server: LocalServer, backend: Backend,
                                                          tmp_path: Path) -> None:
    seed_many(server, ["photos/a/1.jpg"])
    path = write_decl(tmp_path, DECL.replace("/thumbs/{dir}/{stem}.webp", "/thumbs/{reldir}/{stem}.webp"))
    code, out, err = run(server, "apply", str(path), "--yes", "--via", "batch", "--queue", "q1")
    assert code == 1
    assert "uses {reldir}, which CI's batch job output variables cannot express" in err
    assert stat(server, "ci_create_inventory_trigger_jobs") == 0 and stat(server, "ci_list_inventory_trigger_jobs") == 0
    assert not keys(backend, SRC, ".cosrecon/shop/batch/")  # no URL list, no record: refused before any of it
    code, out, err = run(server, "apply", str(path), "--yes", "--via", "batch")
    assert code == 1 and "--via batch needs --queue" in err


def test_batch_survives_kill_9_between_submit_and_completion(server: LocalServer, backend: Backend,
                                                             tmp_path: Path) -> None:
    seed_many(server, [f"photos/a/{i:02d}.jpg" for i in range(30)])
    path = write_decl(tmp_path)
    server.set_faults(latency_ms=40)  # 60 objects: ~2.4 s of job time
    env = {**os.environ, "TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key,
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", str(path), "--yes", "--endpoint",
                             server.endpoint, "--via", "batch", "--queue", "q1", "--wait"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: stat(server, "ci_create_inventory_trigger_jobs") >= 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert stat(server, "ci_create_inventory_trigger_jobs") == 2
    assert stat(server, "batch_job_object") < 60  # killed before the jobs ended
    server.set_faults(latency_ms=0)
    code, out, err = run(server, "apply", str(path), "--yes", "--via", "batch", "--queue", "q1", "--wait")
    assert code == 0, err
    assert "60 created" in out
    assert stat(server, "ci_create_inventory_trigger_jobs") == 2  # found again, never submitted twice
    assert process_calls(server) == 0
    assert not make_plan([declaration(outputs=OUTPUTS)], backend).has_changes


def test_cancelled_job_leaves_missing_outputs_in_the_next_plan(server: LocalServer, backend: Backend,
                                                               tmp_path: Path) -> None:
    seed_many(server, [f"photos/a/{i:02d}.jpg" for i in range(30)])
    path = write_decl(tmp_path, DECL.replace("""      png:
        rule: imageMogr2/format/png
        fileid: small/{stem}.png
""", ""))
    server.set_faults(latency_ms=30)
    code, out, err = run(server, "apply", str(path), "--yes", "--via", "batch", "--queue", "q1")
    assert code == 3, err  # submitted; still running: a later apply collects
    assert "batch job(s) still running" in err
    code, out, err = run(server, "jobs", str(path))
    job_id = next(word for line in out.splitlines() if "photos.thumb" in line for word in line.split()
                  if word.startswith("b") and len(word) == 33)
    code, out, err = run(server, "jobs", "cancel", job_id, str(path))
    assert code == 0, err
    made = stat(server, "batch_job_object")
    assert made < 30
    server.set_faults(latency_ms=0)
    code, out, err = run(server, "apply", str(path), "--yes", "--via", "batch", "--queue", "q1")
    assert code == 1  # the outputs the cancelled job did not make are reported, not recorded
    assert "ended Cancel" in err or "ended Cancel" in out
    decl = declaration(outputs={"thumb": OUTPUTS["thumb"]})
    plan = make_plan([decl], backend)
    standing = len(keys(backend, SRC, "thumbs/"))
    assert plan.count(ActionKind.CREATE) == 30 - standing and plan.count(ActionKind.CONFLICT) == 0
    code, out, err = run(server, "apply", str(path), "--yes", "--via", "batch", "--queue", "q1", "--wait")
    assert code == 0, err
    assert not make_plan([decl], backend).has_changes and process_calls(server) == 0


def test_job_variables_spell_fileid_templates_and_render_keys() -> None:
    import pytest

    from reconciler.declare.jobvars import NotExpressible, job_object_template, render_job_object
    from reconciler.storage.jobs import JobRequest, parse_jobs, request_xml

    absolute = job_object_template("/thumbs/{dir}/{stem}.webp")
    assert absolute == "thumbs/${InputPath}/${InputName}.webp"
    assert render_job_object(absolute, "photos/a/b.jpg") == "thumbs/photos/a/b.webp"
    relative = job_object_template("small/{name}")
    assert render_job_object(relative, "photos/b.jpg") == "photos/small/b.jpg"
    assert render_job_object(job_object_template("/{key}"), "p/q.png") == "p/q.png"
    assert render_job_object(absolute, "root.jpg") == "thumbs//root.webp"  # plain substitution: refused by apply
    with pytest.raises(NotExpressible, match="{rel}"):
        job_object_template("/out/{rel}")
    body = request_xml(JobRequest("n<1>", "q", "l.urls", "imageMogr2/format/png", "ap-guangzhou", "b-1", "o/${ext}"))
    assert b"<Name>n&lt;1&gt;</Name>" in body and b"<Tag>PicProcess</Tag>" in body and b"<UrlFile>l.urls</UrlFile>" in body
    (info,) = parse_jobs(b"<Response><JobsDetail><JobId>j1</JobId><Name>n</Name><State>Running</State>"
                         b"</JobsDetail></Response>")
    assert info.id == "j1" and not info.final
