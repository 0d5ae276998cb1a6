"""Long applies against the local server: --max-duration (exit 3, the next run goes on with no repeated call),
--order newest, --canary, --max-failure-rate and --failures-out; the default pace of long runs."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler.ops.compose import Backend
from reconciler.apply.contract import ApplyOptions
from reconciler.apply.engine import apply_plan
from reconciler.apply.ordering import Order
from reconciler.apply.stopping import RunStopped, WorkRemains
from reconciler.apply.timebox import TimeLimit
from reconciler.local import LocalServer
from reconciler.model import Declaration
from reconciler.pacing import RetryPolicy

from tests.apply.conftest import REGION, SRC, declaration, jpeg, keys, make_plan, process_calls
from tests.apply.test_apply_cli import run

ONE_OUTPUT = {"thumb": {"rule": "imageMogr2/thumbnail/8x/format/webp", "fileid": "/thumbs/{reldir}/{stem}.webp"}}
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
        fileid: /thumbs/{reldir}/{stem}.webp
"""
TINY = jpeg(size=(8, 8))


def seed_many(server: LocalServer, names: Sequence[str]) -> None:
    """Straight into the running server's store, in one transaction (``local import``): no request counted."""
    server.store.put_many(SRC, ((name, TINY) for name in names), content_type_of=lambda _: "image/jpeg")


def one_output() -> Declaration:
    return declaration(outputs=ONE_OUTPUT)


def write_decl(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(DECL)
    return path


def test_time_box_stops_before_the_deadline_and_the_next_run_repeats_no_call(
        server: LocalServer, backend: Backend) -> None:
    """An injected clock: one second passes per image_process call the server received."""
    seed_many(server, [f"photos/{i:03d}.jpg" for i in range(600)])
    decls = [one_output()]

    def clock() -> float:
        return float(process_calls(server))

    options = ApplyOptions(parallelism=4, max_qps=0, time_limit=TimeLimit(100.0, clock), clock=clock)
    with pytest.raises(WorkRemains) as stopped:
        apply_plan(make_plan(decls, backend), decls, backend, options)
    made = process_calls(server)
    assert 50 <= made <= 100  # stopped dispatching in time for in-flight calls to end before the deadline
    report = stopped.value.report
    # every call made is recorded, or (its output not listed yet as the box closed) reported Stopped: never lost
    assert report.created + report.failed == made and report.planned_calls == 600
    assert {f.code for f in report.failures} <= {"Stopped"} and report.failed <= 4
    assert f"made {made} of 600 calls; {600 - made} remaining" in stopped.value.message
    assert stopped.value.exit_code == 3
    # what was made is compacted: the next plan has exactly the rest, and the next run makes only those
    plan = make_plan(decls, backend)  # an output made but not recorded is adopted by its journaled intent
    assert plan.calls == 600 - made
    report = apply_plan(plan, decls, backend, ApplyOptions(parallelism=4, max_qps=0))
    assert report.created == 600 - made and process_calls(server) == 600
    assert not make_plan(decls, backend).has_changes


def test_cli_max_duration_exits_3_on_time_then_finishes(server: LocalServer, backend: Backend,
                                                        tmp_path: Path) -> None:
    seed_many(server, [f"photos/{i:03d}.jpg" for i in range(600)])
    server.set_faults(latency_ms=20)  # 600 calls on 4 workers: about 3 s; the time box is 1.5 s
    path = write_decl(tmp_path)
    started = time.monotonic()
    code, out, err = run(server, "apply", str(path), "--yes", "--max-qps", "0", "--parallelism", "4",
                         "--max-duration", "1.5s")
    elapsed = time.monotonic() - started
    assert code == 3, err
    assert elapsed < 1.5 + 0.5  # the whole command: planning, calls and compaction
    made = process_calls(server)
    assert 0 < made < 600
    assert f"made {made} of 600 calls; {600 - made} remaining; about" in err and "Error" not in err
    server.set_faults(latency_ms=0)
    code, out, err = run(server, "apply", str(path), "--yes", "--max-qps", "0", "--max-duration", "1h")
    assert code == 0, err
    assert f"{600 - made} created" in out
    assert process_calls(server) == 600  # no call repeated, counted by the server


def test_order_newest_makes_the_newest_sources_calls_first(server: LocalServer, backend: Backend,
                                                           tmp_path: Path) -> None:
    storage = backend.storage(REGION)
    names = [f"photos/{c}.jpg" for c in "dbeacf"]  # uploaded in this order: f is the newest, d the oldest
    for name in names:
        storage.put_object(SRC, name, TINY)
        time.sleep(0.005)  # LastModified has milliseconds
    server.set_faults(latency_ms=5)
    code, out, err = run(server, "apply", str(write_decl(tmp_path)), "--yes", "--max-qps", "0", "--parallelism", "1")
    assert code == 0, err
    outputs = sorted(storage.list_objects(SRC, "thumbs/"), key=lambda o: (o.last_modified, o.key))
    made = [o.key.removeprefix("thumbs/").removesuffix(".webp") for o in outputs]
    assert made == list(reversed("dbeacf"))


def test_order_oldest_and_key_in_the_engine(server: LocalServer, backend: Backend) -> None:
    storage = backend.storage(REGION)
    for name in "cab":
        storage.put_object(SRC, f"photos/{name}.jpg", TINY)
        time.sleep(0.005)
    decls = [one_output()]
    plan = make_plan(decls, backend)
    from reconciler.apply.ordering import OrderedCalls

    class Run:
        def __init__(self) -> None:
            self.plan = plan.sets[0]

    runs = [Run()]
    assert [c.key[7] for _, c in OrderedCalls(runs, Order.OLDEST)] == list("cab")
    assert [c.key[7] for _, c in OrderedCalls(runs, Order.NEWEST)] == list("bac")
    assert [c.key[7] for _, c in OrderedCalls(runs, Order.KEY)] == list("abc")


@pytest.mark.usefixtures("instant_retries")
def test_canary_stops_on_a_failing_server(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed_many(server, [f"photos/{i:02d}.jpg" for i in range(40)])
    server.set_faults(fail_rate=1.0)
    code, out, err = run(server, "apply", str(write_decl(tmp_path)), "--yes", "--max-qps", "0", "--canary", "10",
                         "--max-failure-rate", "100", "--parallelism", "4")
    assert code == 1
    assert "Canary: 10 call(s) made; 0 of 10 output(s) stand" in err
    assert "10 canary output(s) do not stand; the other 30 call(s) were not made" in err
    assert process_calls(server) == 10 * RetryPolicy().attempts  # the canary's calls, retried; nothing after
    assert not keys(backend, SRC, "thumbs/")


def test_canary_goes_on_on_a_healthy_server(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed_many(server, [f"photos/{i:02d}.jpg" for i in range(40)])
    code, out, err = run(server, "apply", str(write_decl(tmp_path)), "--yes", "--max-qps", "0", "--canary", "10")
    assert code == 0, err
    assert "Canary: 10 call(s) made; 10 of 10 output(s) stand as declared" in err
    assert "image/webp" in err
    assert "40 created" in out and process_calls(server) == 40


def test_canary_flags_an_output_of_the_wrong_type(server: LocalServer, backend: Backend) -> None:
    from reconciler.apply.canary import check_canary

    seed_many(server, ["photos/a.jpg"])
    decls = [one_output()]
    plan = make_plan(decls, backend)
    call = plan.sets[0].calls[0]
    storage = backend.storage(REGION)
    storage.put_object(SRC, "thumbs/a.webp", b"not an image", content_type="image/png")
    result = check_canary([("shop", REGION, call)], backend.storage, [], remaining=0)
    assert result.failed == 1 and "content type image/png, the rule declares image/webp" in result.outputs[0].problem
    storage.put_object(SRC, "thumbs/a.webp", b"", content_type="image/webp")
    result = check_canary([("shop", REGION, call)], backend.storage, [], remaining=0)
    assert result.outputs[0].problem == "empty (0 bytes)"


@pytest.mark.usefixtures("instant_retries")
def test_failure_rate_stops_the_run_and_failures_are_written(server: LocalServer, backend: Backend,
                                                              tmp_path: Path) -> None:
    seed_many(server, [f"photos/{i:03d}.jpg" for i in range(200)])
    server.set_faults(fail_rate=1.0)
    failures = tmp_path / "failures.jsonl"
    code, out, err = run(server, "apply", str(write_decl(tmp_path)), "--yes", "--max-qps", "0", "--parallelism", "2",
                         "--failures-out", str(failures))
    assert code == 1
    assert "more than --max-failure-rate 2 % of 100 allows" in err
    attempts = process_calls(server)
    assert 3 * RetryPolicy().attempts <= attempts <= 5 * RetryPolicy().attempts  # the third failed call stops it
    rows = [json.loads(line) for line in failures.read_text().splitlines()]
    assert 3 <= len(rows) <= 3 + 2  # and the calls in flight (2 workers) end, failed or stopped
    assert {r["error"] for r in rows} <= {"InternalError", "Stopped"}
    assert set(rows[0]) == {"set", "address", "bucket", "key", "source", "error", "message", "request_id"}
    assert rows[0]["set"] == "shop" and rows[0]["address"] == "photos.thumb" and rows[0]["error"] == "InternalError"
    assert rows[0]["key"].startswith("thumbs/") and rows[0]["source"].startswith("photos/")


def test_failure_window_counts_any_100_calls() -> None:
    from reconciler.apply.failrate import FailureWindow

    window = FailureWindow(0.02)
    assert not any(window.add(i % 50 == 0) for i in range(1000))  # 2 in every 100: not more than 2 %
    window = FailureWindow(0.02)
    outcomes = [False] * 150 + [True, False, True] + [False] * 90 + [True]
    assert [window.add(o) for o in outcomes][-1] is True  # three failures within 95 calls
    assert FailureWindow(None).add(True) is False


def test_default_pace_leaves_headroom_on_long_runs() -> None:
    from reconciler.plan.estimate import Estimate, SetEstimate, Work, BlastRadius, default_qps
    from reconciler.render.estimate import pace_notes

    assert default_qps(1000, 100) == 100
    assert default_qps(360_000, 100) == 100  # exactly an hour at the cap
    assert default_qps(360_001, 100) == 60
    assert default_qps(200_000, 50) == 30
    work = Work(calls=10_000_000)
    est = Estimate((SetEstimate("shop", "CNY", "mainland", work, 10_000_000 / 60, 100_000, (), None,
                                BlastRadius({}, None, 0)),), "built-in", "heuristic", (), 60, True, 100)
    notes = "\n".join(pace_notes(est))
    assert "pace: 60 calls/s, leaving 40/s of CI's 100/s to uploads" in notes
    assert "the calls alone take 27.8 h" in notes and "batch processing jobs share the same limit" in notes


def test_plan_estimate_says_the_default_pace(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed_many(server, ["photos/a.jpg"])
    code, out, err = run(server, "plan", str(write_decl(tmp_path)))
    assert code == 0, err
    assert "pace:" not in out  # a short run: CI's limit, no headroom note


def test_line_progress_a_line_a_minute_with_rate_and_eta() -> None:
    import io

    from reconciler.cli.progress import LineProgress

    now = [0.0]
    stream = io.StringIO()
    progress = LineProgress(stream, clock=lambda: now[0])
    progress.start(36_000)
    for _ in range(59):
        now[0] += 1
        progress.advance(done=10, calls=10)
    assert stream.getvalue() == ""  # under a minute: nothing yet
    now[0] += 1
    progress.advance(done=10, calls=10)
    assert stream.getvalue() == "apply: 600/36000 outputs, 600 calls (10.0 calls/s), 0 failed, ETA 59m00s\n"


def test_backfill_workflow_slice_step_posts_the_remaining_count(server: LocalServer, backend: Backend,
                                                                tmp_path: Path) -> None:
    """The example workflow's slice step, run as GitHub runs it (bash -eo pipefail) with this checkout's cosrecon:
    exit 3 is a successful slice, and the remaining count reaches the step's outputs and the run's summary."""
    import os
    import subprocess
    import sys

    from ruamel.yaml import YAML

    workflow = Path(__file__).resolve().parents[2] / "examples/github-actions/.github/workflows/cosrecon-backfill.yml"
    data = YAML(typ="safe").load(workflow.read_text(encoding="utf-8"))
    (job,) = data["jobs"].values()
    assert data["concurrency"]["group"] == "cosrecon-apply" and "schedule" in data["on"]
    (step,) = [s for s in job["steps"] if s.get("name") == "Apply one slice"]
    repo = tmp_path / "repo"
    (repo / "declarations").mkdir(parents=True)
    (repo / "declarations" / "shop.yaml").write_text(DECL)
    seed_many(server, [f"photos/{i:03d}.jpg" for i in range(300)])
    outputs, summary = tmp_path / "out", tmp_path / "summary"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "COSRECON_ENDPOINT": server.endpoint,
           "TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key,
           "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary), "SLICE": "2s"}
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env,
                            text=True, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    made = process_calls(server)
    assert made < 300  # the default pace (95/s) makes at most 190 calls in 2 s
    assert f"remaining={300 - made}" in outputs.read_text().splitlines()
    assert f"made {made} of 300 calls; {300 - made} remaining" in summary.read_text()
    outputs.unlink()
    env["SLICE"] = "5h"
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env,
                            text=True, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "remaining=0" in outputs.read_text().splitlines() and process_calls(server) == 300


def test_ordered_calls_across_sets_with_unknown_times() -> None:
    from reconciler.apply.ordering import OrderedCalls
    from reconciler.model import Call, SetPlan

    def run_of(keys: str, mtimes: list[int] | None) -> object:
        calls = tuple(Call("b", k, "e", (), ()) for k in keys)

        class Run:
            plan = SetPlan("s", "d", "0", (), calls, {}, source_mtimes=mtimes)
        return Run()

    runs = [run_of("ab", [5, -1]), run_of("c", None), run_of("def", [7, 5, 3]), run_of("", [])]
    assert "".join(c.key for _, c in OrderedCalls(runs, Order.NEWEST)) == "daefbc"  # ties in plan order, unknown last
    assert "".join(c.key for _, c in OrderedCalls(runs, Order.OLDEST)) == "faedbc"
    assert "".join(c.key for _, c in OrderedCalls(runs, Order.KEY)) == "abcdef"
    assert OrderedCalls(runs, Order.NEWEST)[1][0] is runs[0] and len(OrderedCalls(runs)) == 6
