"""The apply engine against the local server through the real SDK: calls are exactly the plan's, the ledger stays
true (ETags as HEAD shows them), and re-runs converge."""

from __future__ import annotations

from reconciler.ops.compose import Backend
from reconciler.apply.adopt import adopt
from reconciler.apply.contract import ApplyOptions
from reconciler.apply.engine import apply_plan
from reconciler.local import LocalServer
from reconciler.model import ActionKind, Reason

from tests.apply.conftest import OUT, REGION, SRC, declaration, keys, make_plan, process_calls, retire, seed

FAST = ApplyOptions(parallelism=4, max_qps=0, journal_interval=0.2)
SOURCES = ["photos/a.jpg", "photos/b.jpg", "photos/x/c.jpg"]


def calls(server: LocalServer) -> int:
    return process_calls(server)


def test_first_apply_then_converged(server: LocalServer, backend: Backend) -> None:
    seed(backend, SOURCES)
    decl = declaration()
    plan = make_plan([decl], backend)
    assert plan.calls == 3 and plan.count(ActionKind.CREATE) == 6
    report = apply_plan(plan, [decl], backend, FAST)
    assert (report.created, report.replaced, report.failed, report.calls) == (6, 0, 0, 3)
    assert process_calls(server) == 3
    assert keys(backend, SRC, "thumbs/") == {"thumbs/a.webp", "thumbs/b.webp", "thumbs/x/c.webp"}
    ledger = backend.ledgers.read(decl)
    assert ledger.generation == "1" and len(ledger.entries) == 6
    assert ledger.declaration == dict(decl.document)
    listed = {o.key: o.etag for o in backend.storage(REGION).list_objects(SRC)}
    for (bucket, key), entry in ledger.entries.items():
        assert entry.output_etag == listed[key]  # what listing shows, not ProcessResults' ETag
    assert not keys(backend, SRC, ".cosrecon/shop/journal/") and not keys(backend, SRC, ".cosrecon/shop/lock")

    again = make_plan([decl], backend)
    assert not again.has_changes and again.calls == 0
    report = apply_plan(again, [decl], backend, FAST)
    assert report.calls == 0 and process_calls(server) == 3
    assert backend.ledgers.read(decl).generation == "1"  # nothing changed: no write


def test_rule_change_source_change_and_output_deleted(server: LocalServer, backend: Backend) -> None:
    seed(backend, SOURCES)
    decl = declaration()
    apply_plan(make_plan([decl], backend), [decl], backend, FAST)
    base = process_calls(server)

    changed = declaration(outputs={
        "thumb": {"rule": "imageMogr2/thumbnail/16x/format/webp", "fileid": "/thumbs/{reldir}/{stem}.webp"},
        "png": {"rule": "imageMogr2/format/png", "fileid": "/png/{reldir}/{stem}.png"},
    })
    plan = make_plan([changed], backend)
    assert {(a.action, a.reason) for a in plan.sets[0].actions} == {(ActionKind.REPLACE, Reason.RULE_CHANGED)}
    assert {a.address for a in plan.sets[0].actions} == {"photos.thumb"} and plan.calls == 3
    report = apply_plan(plan, [changed], backend, FAST)
    assert (report.replaced, report.calls) == (3, 3) and process_calls(server) == base + 3

    seed(backend, ["photos/b.jpg"], color="blue")  # re-uploaded source
    backend.storage(REGION).delete_object(SRC, "png/x/c.png")  # an output deleted outside the tool
    plan = make_plan([changed], backend)
    reasons = {(a.key, a.reason) for a in plan.sets[0].actions}
    assert reasons == {("thumbs/b.webp", Reason.SOURCE_CHANGED), ("png/b.png", Reason.SOURCE_CHANGED),
                       ("png/x/c.png", Reason.MISSING)}
    report = apply_plan(plan, [changed], backend, FAST)
    assert (report.created, report.replaced, report.calls, report.failed) == (1, 2, 2, 0)
    assert not make_plan([changed], backend).has_changes


def test_prune_deletes_only_recorded_orphans(server: LocalServer, backend: Backend) -> None:
    seed(backend, SOURCES)
    decl = declaration()
    apply_plan(make_plan([decl], backend), [decl], backend, FAST)
    backend.storage(REGION).put_object(SRC, "png/stranger.png", b"not ours")
    only_thumb = declaration(outputs={
        "thumb": {"rule": "imageMogr2/thumbnail/32x/format/webp", "fileid": "/thumbs/{reldir}/{stem}.webp"}})
    kept = make_plan([only_thumb], backend)
    assert kept.count(ActionKind.ORPHANED) == 3 and kept.count(ActionKind.DELETE) == 0
    apply_plan(kept, [only_thumb], backend, FAST)
    assert len(keys(backend, SRC, "png/")) == 4

    undeclared = make_plan([only_thumb], backend, prune=True)  # png is not retired: nothing grants the deletes
    assert undeclared.count(ActionKind.DELETE) == 0 and undeclared.count(ActionKind.ORPHANED) == 3
    only_thumb = retire(only_thumb, "photos.png", "/png/{reldir}/{stem}.png")
    plan = make_plan([only_thumb], backend, prune=True)
    assert plan.count(ActionKind.DELETE) == 3
    report = apply_plan(plan, [only_thumb], backend, FAST)
    assert report.deleted == 3 and report.calls == 0
    assert keys(backend, SRC, "png/") == {"png/stranger.png"}
    assert {k for _, k in backend.ledgers.read(only_thumb).entries} == {"thumbs/a.webp", "thumbs/b.webp",
                                                                         "thumbs/x/c.webp"}


def test_adopt_records_existing_outputs(server: LocalServer, backend: Backend) -> None:
    seed(backend, SOURCES)
    storage = backend.storage(REGION)
    storage.put_object(SRC, "thumbs/a.webp", b"made by hand")
    decl = declaration()
    plan = make_plan([decl], backend)
    assert [(a.key, a.action) for a in plan.sets[0].actions if a.action is ActionKind.CONFLICT] == \
        [("thumbs/a.webp", ActionKind.CONFLICT)]
    report = adopt(make_plan([decl], backend, replace_unmanaged=True), [decl], backend, FAST)
    assert report.adopted == 1 and report.calls == 0 and process_calls(server) == 0
    entry = backend.ledgers.read(decl).entries[(SRC, "thumbs/a.webp")]
    assert entry.output_etag == storage.head_object(SRC, "thumbs/a.webp").etag  # type: ignore[union-attr]
    after = make_plan([decl], backend)
    assert after.count(ActionKind.CONFLICT) == 0 and after.count(ActionKind.CREATE) == 5


def test_cross_bucket_outputs(server: LocalServer, backend: Backend) -> None:
    seed(backend, SOURCES[:1])
    decl = declaration(outputs={"big": {"rule": "imageMogr2/format/png", "fileid": "/big/{stem}.png", "bucket": OUT}})
    report = apply_plan(make_plan([decl], backend), [decl], backend, FAST)
    assert report.created == 1 and keys(backend, OUT) == {"big/a.png"}
    assert not make_plan([decl], backend).has_changes


def test_output_etags_are_learnt_by_listing_not_one_head_each(server: LocalServer, backend: Backend) -> None:
    names = [f"photos/{i:02d}-café.jpg" for i in range(30)] + ["photos/ü/é 1.jpg"]
    seed(backend, names)
    decl = declaration()
    before = server.stats()
    report = apply_plan(make_plan([decl], backend), [decl], backend, FAST)
    after = server.stats()
    assert report.created == 62 and report.failed == 0
    heads = sum(v - before.get(k, 0) for k, v in after.items() if "head" in k.lower())
    assert heads < 10  # 62 outputs, verified by range listings (a lone output in its own folder is HEADed)
    listed = {o.key: o.etag for o in backend.storage(REGION).list_objects(SRC)}
    ledger = backend.ledgers.read(decl)
    assert {k: e.output_etag for (_, k), e in ledger.entries.items()} == {k: listed[k] for _, k in ledger.entries}
    assert not make_plan([decl], backend).has_changes


def test_adopt_of_many_outputs_lists_instead_of_heading_each(server: LocalServer, backend: Backend) -> None:
    names = [f"photos/{i:02d}.jpg" for i in range(20)]
    seed(backend, names)
    storage = backend.storage(REGION)
    for i in range(20):
        storage.put_object(SRC, f"thumbs/{i:02d}.webp", b"existing %d" % i)
        storage.put_object(SRC, f"png/{i:02d}.png", b"existing png %d" % i)
    decl = declaration()
    plan = make_plan([decl], backend, replace_unmanaged=True)
    before = server.stats()
    report = adopt(plan, [decl], backend, FAST)
    after = server.stats()
    assert report.adopted == 40 and report.failed == 0 and process_calls(server) == 0
    assert sum(v - before.get(k, 0) for k, v in after.items() if "head" in k.lower()) == 0
    converged = make_plan([decl], backend)
    assert not converged.has_changes and converged.count(ActionKind.UNCHANGED) == 40
