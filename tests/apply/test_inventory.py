"""Plans from COS Inventory reports (``--inventory``), ``--shard`` and ``--source-prefix``, against the local server
through the real SDK: the plan from a report equals the plan from a listing in a world with every state, sends no
LIST to the buckets the reports cover, a stale report makes apply do less (never more), shards are disjoint and
together the whole plan, and source prefixes cut sources, orphans and deletes alike."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.apply.workflow import RunSettings, run_sets
from reconciler.cli import main
from reconciler.declare.load import load_declarations
from reconciler.local import LocalServer
from reconciler.model import ActionKind, Declaration, Plan, Reason
from reconciler.plan.observed import plan_declarations
from reconciler.plan.scope import Scope, ScopeRequest, Shard
from reconciler.storage.inventory_report import write_report

from tests.apply.conftest import OUT, REGION, SRC, declaration, jpeg, process_calls, seed

INV = "inv-1250000000"
SOURCES = ["photos/a/1.jpg", "photos/a/sp ace.jpg", "photos/a/plus+1.jpg", "photos/b/pct%41.jpg",
           "photos/b/中文.jpg", "photos/b/gone.jpg", "photos/c/drift.jpg", "photos/c/keep.jpg"]
OUTPUTS = {"thumb": {"rule": "imageMogr2/thumbnail/32x/format/webp", "fileid": "/thumbs/{reldir}/{stem}.webp"},
           "png": {"rule": "imageMogr2/format/png", "fileid": "/png/{reldir}/{stem}.png", "bucket": OUT},
           "near": {"rule": "imageMogr2/format/webp", "fileid": "near/{stem}.webp"}}


@pytest.fixture
def inv_server(tmp_path: Path) -> LocalServer:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC, OUT, INV], ci_qps=0, seed=7).start()
    yield srv
    srv.stop()


@pytest.fixture
def inv_backend(inv_server: LocalServer) -> Backend:
    return Backend(endpoint=inv_server.endpoint, secret_id=inv_server.secret_id, secret_key=inv_server.secret_key,
                   pool_size=16)


def world(backend: Backend) -> Declaration:
    """Applied once, then changed in every way a plan tells apart; returns the declaration now (one rule changed)."""
    storage = backend.storage(REGION)
    seed(backend, SOURCES)
    run_sets([declaration(outputs=OUTPUTS)], backend, RunSettings())
    storage.delete_object(SRC, "thumbs/a/1.webp")  # missing
    storage.put_object(SRC, "photos/a/sp ace.jpg", jpeg("blue"))  # stale by source
    storage.put_object(SRC, "thumbs/c/drift.webp", b"edited by hand")  # drifted
    storage.delete_object(SRC, "photos/b/gone.jpg")  # its outputs orphaned
    seed(backend, ["photos/d/new.jpg", "photos/d/taken.jpg", "photos/d/100%+ü.jpg"])  # new sources
    storage.put_object(SRC, "thumbs/d/taken.webp", b"someone else's")  # conflict
    changed = dict(OUTPUTS, png={**OUTPUTS["png"], "rule": "imageMogr2/format/png/quality/90"})  # stale by rule
    return declaration(outputs=changed)


def report(backend: Backend, bucket: str) -> str:
    written = write_report(backend.storage(REGION), bucket, INV, "reports", "daily")
    return f"cos://{INV}/{written.manifest_key}"


def scope(backend: Backend, decl: Declaration, *locations: str, prefixes: tuple[str, ...] = (),
          shard: Shard | None = None) -> Scope:
    return ScopeRequest(locations, prefixes, shard).open(backend.storage, [decl])


def summary(plan: Plan) -> tuple[object, ...]:
    s = plan.sets[0]
    return (tuple(s.calls), tuple(s.actions), dict(s.unchanged), tuple(s.source_sizes or ()))


def lists(server: LocalServer, bucket: str) -> int:
    return server.stats().get(f"list_objects:{bucket}", 0)


@pytest.mark.parametrize("prune", [False, True])
def test_the_plan_from_reports_equals_the_plan_from_a_listing(inv_server: LocalServer, inv_backend: Backend,
                                                             prune: bool) -> None:
    decl = world(inv_backend)
    listed = plan_declarations([decl], inv_backend, prune=prune)
    kinds = {(a.action, a.reason) for a in listed.sets[0].actions}
    assert {(ActionKind.CREATE, Reason.MISSING), (ActionKind.REPLACE, Reason.SOURCE_CHANGED),
            (ActionKind.REPLACE, Reason.RULE_CHANGED), (ActionKind.REPLACE, Reason.OUTPUT_CHANGED),
            (ActionKind.CONFLICT, Reason.UNMANAGED)} <= kinds
    assert (ActionKind.DELETE if prune else ActionKind.ORPHANED, Reason.SOURCE_DELETED) in kinds
    reports = scope(inv_backend, decl, report(inv_backend, SRC), report(inv_backend, OUT))
    before = lists(inv_server, SRC)
    inv_backend.ledgers.read(decl)  # the ledger store lists the set's journal (its state is in SRC)
    state_lists = lists(inv_server, SRC) - before
    before_all = {b: lists(inv_server, b) for b in (SRC, OUT)}
    from_reports = plan_declarations([decl], inv_backend, prune=prune, scope=reports)
    assert summary(from_reports) == summary(listed)
    after = {b: lists(inv_server, b) - before_all[b] for b in (SRC, OUT)}
    assert after == {SRC: state_lists, OUT: 0}  # no LIST to observe the covered buckets


def test_a_bucket_without_a_report_is_listed(inv_server: LocalServer, inv_backend: Backend) -> None:
    decl = world(inv_backend)
    reports = scope(inv_backend, decl, report(inv_backend, SRC))
    before = lists(inv_server, OUT)
    from_report = plan_declarations([decl], inv_backend, scope=reports)
    assert lists(inv_server, OUT) > before  # OUT has no report: listed as always
    assert summary(from_report) == summary(plan_declarations([decl], inv_backend))


def test_a_stale_report_makes_apply_do_less_never_more(inv_server: LocalServer, inv_backend: Backend) -> None:
    decl = world(inv_backend)
    storage = inv_backend.storage(REGION)
    locations = (report(inv_backend, SRC), report(inv_backend, OUT))
    # after the reports: a source deleted, one overwritten, an unmanaged object where an output is planned, and
    # an object the prune would delete overwritten
    storage.delete_object(SRC, "photos/d/new.jpg")
    storage.put_object(SRC, "photos/a/1.jpg", jpeg("green"))
    storage.put_object(SRC, "thumbs/d/100%+ü.webp", b"arrived after the report")
    storage.put_object(SRC, "thumbs/b/gone.webp", b"rewritten after the report")
    fresh = plan_declarations([decl], inv_backend, prune=True)
    report_plan = plan_declarations([decl], inv_backend, prune=True, scope=scope(inv_backend, decl, *locations))
    calls_before = process_calls(inv_server)
    outcome = run_sets([decl], inv_backend, RunSettings(prune=True, scope=ScopeRequest(locations)))
    executed = outcome.plan.sets[0]
    assert storage.get_object(SRC, "thumbs/d/100%+ü.webp") == b"arrived after the report"  # not overwritten
    assert storage.get_object(SRC, "thumbs/b/gone.webp") == b"rewritten after the report"  # not deleted
    assert storage.head_object(SRC, "thumbs/d/new.webp") is None  # its source is gone: not processed
    assert all(c.key not in ("photos/d/new.jpg", "photos/a/1.jpg") for c in executed.calls)
    done = {(a.bucket, a.key) for a in executed.actions if a.action in (ActionKind.CREATE, ActionKind.REPLACE,
                                                                       ActionKind.DELETE)}
    assert done, "the report still tells most keys right"
    wanted = {(a.bucket, a.key) for a in fresh.sets[0].actions}
    assert done <= {(a.bucket, a.key) for a in report_plan.sets[0].actions}  # nothing the report did not plan
    assert done <= wanted | {("src-1250000000", "thumbs/a/1.webp")}
    assert process_calls(inv_server) - calls_before == len(executed.calls)


def test_shards_are_disjoint_and_together_the_whole_plan(inv_backend: Backend) -> None:
    decl = world(inv_backend)
    whole = plan_declarations([decl], inv_backend, prune=True).sets[0]
    parts = [plan_declarations([decl], inv_backend, prune=True, scope=Scope(shard=Shard(i, 3))).sets[0]
             for i in (1, 2, 3)]
    assert sorted(c for p in parts for c in p.calls) == sorted(whole.calls)
    assert Counter(a for p in parts for a in p.actions) == Counter(whole.actions)
    for address, count in whole.unchanged.items():
        assert sum(p.unchanged[address] for p in parts) == count
    assert sum(1 for p in parts if p.calls) > 1  # the hash spreads them
    assert Shard.parse("2/3") == Shard(2, 3) and Shard(2, 3).owns("x") == Shard(2, 3).owns("x")


def test_source_prefixes_cut_sources_orphans_and_deletes(inv_server: LocalServer, inv_backend: Backend) -> None:
    decl = world(inv_backend)
    whole = plan_declarations([decl], inv_backend, prune=True).sets[0]
    before = inv_server.stats().get("list_objects", 0)
    part = plan_declarations([decl], inv_backend, prune=True, scope=Scope(source_prefixes=("photos/a/",))).sets[0]
    assert sorted(part.calls) == sorted(c for c in whole.calls if c.key.startswith("photos/a/"))
    assert part.calls and not any(a.source.startswith("photos/b/") for a in part.actions)  # orphans of b not shown
    assert set(part.actions) == {a for a in whole.actions if a.source.startswith("photos/a/")}
    assert inv_server.stats().get("list_objects", 0) > before
    deleted = plan_declarations([decl], inv_backend, prune=True, scope=Scope(source_prefixes=("photos/b/",))).sets[0]
    assert {a.action for a in deleted.actions} >= {ActionKind.DELETE}


def test_cli_plan_shows_the_report_date_and_local_inventory_writes_one(inv_server: LocalServer,
                                                                      inv_backend: Backend, tmp_path: Path) -> None:
    seed(inv_backend, ["photos/a/1.jpg"])
    env = {"TENCENTCLOUD_SECRET_ID": inv_server.secret_id, "TENCENTCLOUD_SECRET_KEY": inv_server.secret_key,
           "COSRECON_ENDPOINT": inv_server.endpoint}
    runner = CliRunner()
    made = runner.invoke(main, ["local", "inventory", SRC, "--destination", f"{INV}/reports", "--config-id", "d1"],
                         env=env)
    assert made.exit_code == 0, made.output
    assert "1 object(s)" in made.output
    path = tmp_path / "shop.yaml"
    path.write_text(f"version: 1\nname: shop\nregion: {REGION}\nbucket: {SRC}\npipelines:\n  p:\n    source:\n"
                    "      include: ['photos/**/*.jpg']\n    outputs:\n      t:\n        rule: imageMogr2/format/png\n"
                    "        fileid: /t/{stem}.png\n", encoding="utf-8")
    folder = f"cos://{INV}/reports/1250000000/{SRC}/d1/"
    shown = runner.invoke(main, ["plan", str(path), "--inventory", folder], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"Bucket {SRC} is read from its inventory report of" in shown.stdout
    assert "1 to create" in shown.stdout or "create" in shown.stdout
    wrong = runner.invoke(main, ["plan", str(path), "--inventory", f"cos://{INV}/reports/1250000000/{OUT}/d1/"], env=env)
    assert wrong.exit_code == 1 and "no <YYYYMMDD>/manifest.json" in wrong.stderr
    assert "Traceback" not in wrong.output
    bad = runner.invoke(main, ["plan", str(path), "--shard", "4/3"], env=env)
    assert bad.exit_code != 0 and "I must be 1 to N" in bad.output


def test_cli_apply_adopt_and_preview_take_reports(inv_server: LocalServer, inv_backend: Backend,
                                                  tmp_path: Path) -> None:
    seed(inv_backend, ["photos/a/1.jpg", "photos/b/2.jpg"])
    storage = inv_backend.storage(REGION)
    storage.put_object(SRC, "t/2.png", b"made by hand")  # a conflict adopt takes over
    location = report(inv_backend, SRC)
    env = {"TENCENTCLOUD_SECRET_ID": inv_server.secret_id, "TENCENTCLOUD_SECRET_KEY": inv_server.secret_key,
           "COSRECON_ENDPOINT": inv_server.endpoint}
    path = tmp_path / "shop.yaml"
    path.write_text(f"version: 1\nname: shop\nregion: {REGION}\nbucket: {SRC}\npipelines:\n  p:\n    source:\n"
                    "      include: ['photos/**/*.jpg']\n    outputs:\n      t:\n        rule: imageMogr2/format/png\n"
                    "        fileid: /t/{stem}.png\n", encoding="utf-8")
    runner = CliRunner()
    shown = runner.invoke(main, ["preview", str(path), "--inventory", location, "--out", str(tmp_path / "pv")], env=env)
    assert shown.exit_code == 0, shown.output
    assert "read from its inventory report" in shown.stderr
    adopted = runner.invoke(main, ["adopt", str(path), "--inventory", location, "--yes"], env=env)
    assert adopted.exit_code == 0, adopted.output
    assert "1 recorded" in adopted.stdout
    applied = runner.invoke(main, ["apply", str(path), "--inventory", location, "--source-prefix", "photos/a/",
                                   "--yes"], env=env)
    assert applied.exit_code == 0, applied.output
    assert storage.head_object(SRC, "t/1.png") is not None
    assert "Checked 1 key(s)" in applied.stderr or "Checked 2 key(s)" in applied.stderr
    (decl,) = load_declarations([str(path)])
    recorded = {e.source_key for e in inv_backend.ledgers.read(decl).entries.values()}
    assert recorded == {"photos/a/1.jpg", "photos/b/2.jpg"}  # the entry outside the prefix is kept
    planned = runner.invoke(main, ["plan", str(path), "--inventory", location, "--shard", "1/1"], env=env)
    assert planned.exit_code == 0 and "Apply will first check 2 key(s)" in planned.stdout  # the report is stale now
    calls = process_calls(inv_server)
    again = runner.invoke(main, ["apply", str(path), "--inventory", location, "--yes"], env=env)
    assert again.exit_code == 0, again.output
    assert "changed since the report" in again.stderr and process_calls(inv_server) == calls  # less, never more
