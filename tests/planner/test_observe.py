"""The observer against an in-memory Storage: each (bucket, prefix) listed once, HEADs only when few, orphans seen."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.declare.load import build_declaration
from reconciler.errors import CollisionError, NotFound
from reconciler.model import Ledger, LedgerEntry, ObjectInfo, RetiredOutput
from reconciler.plan.compiled import output_prefixes, source_prefixes, template_prefix
from reconciler.plan.observed import observe_set, plan_declarations, plan_set
from reconciler.storage.memory import MemoryStorage
from tests.planner.conftest import B, C, decl

def test_prefixes() -> None:
    assert template_prefix("/thumbs/{dir}/{stem}.webp") == "thumbs/"
    assert template_prefix("/{stem}.webp") == ""
    d = decl({"a": {"rule": "imageMogr2/strip", "fileid": "/t/{name}"},
              "b": {"rule": "imageMogr2/strip", "fileid": "small/{name}", "bucket": C}},
             ["photos/2024/*.jpg", "photos/**/*.png", "scans/x*.tif"])
    assert source_prefixes(d) == ("photos/", "scans/x")
    assert output_prefixes(d) == {B: ("t/",), C: ("photos/", "scans/")}


def test_each_prefix_listed_once_and_shared_by_sources_and_outputs() -> None:
    many = {f"img/{i}.jpg": "e" for i in range(30)}
    storage = MemoryStorage({B: dict(many), C: {}})
    d = decl({"rel": {"rule": "imageMogr2/strip", "fileid": "small/{name}"},  # under img/: served by the same listing
              "abs": {"rule": "imageMogr2/strip", "fileid": "/t/{name}"},
              "cdn": {"rule": "imageMogr2/strip", "fileid": "/t/{name}", "bucket": C}}, ["img/*.jpg"])
    obs = observe_set(d, storage, Ledger("s"))
    assert sorted(storage.lists) == sorted([(B, "img/"), (B, "t/"), (C, "t/")])  # each once
    assert storage.heads == [] and storage.writes == []  # planning never writes
    assert len(obs.sources) == 30


def test_whole_bucket_output_prefix_lists_the_bucket_once() -> None:
    storage = MemoryStorage({B: {f"img/{i}.jpg": "e" for i in range(30)}})
    d = decl({"o": {"rule": "imageMogr2/strip", "fileid": "/{stem}.webp"}}, ["img/*.jpg"])
    observe_set(d, storage, Ledger("s"))
    assert storage.lists == [(B, "")]


def test_a_finished_output_listing_is_used_as_is() -> None:
    storage = MemoryStorage({B: {"img/a.jpg": "e", "img/b.jpg": "e"}, C: {"t/a.jpg": "x"}})
    d = decl({"cdn": {"rule": "imageMogr2/strip", "fileid": "/t/{name}", "bucket": C}}, ["img/*.jpg"])
    plan, obs = plan_set(d, storage, Ledger("s"))
    assert set(storage.lists) == {(B, "img/"), (C, "t/")} and storage.heads == []
    assert sorted((a.action.value, a.key) for a in plan.actions) == [("conflict", "t/a.jpg"), ("create", "t/b.jpg")]
    assert obs.requests == 2


class SlowOutputs(MemoryStorage):
    """The output bucket's listing starts only after the sources are listed, and pages slowly."""

    def __init__(self, buckets: dict[str, dict[str, str]]) -> None:
        super().__init__(buckets)
        self.sources_done = threading.Event()

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        if bucket == C:
            self.sources_done.wait(5)
            time.sleep(0.3)  # the observer has seen the sources by now and stopped this listing
        yield from super().list_objects(bucket, prefix, start_after=start_after)
        if bucket == B:
            self.sources_done.set()


def test_few_expected_outputs_are_headed_when_the_output_listing_is_large() -> None:
    big = {f"t/zz{i:05d}": "y" for i in range(5000)}
    storage = SlowOutputs({B: {"img/a.jpg": "e", "img/b.jpg": "e"}, C: {"t/a.jpg": "x", **big}})
    d = decl({"cdn": {"rule": "imageMogr2/strip", "fileid": "/t/{name}", "bucket": C}}, ["img/*.jpg"])
    plan, obs = plan_set(d, storage, Ledger("s"))
    assert sorted(storage.heads) == [(C, "t/a.jpg"), (C, "t/b.jpg")]
    assert sorted((a.action.value, a.key) for a in plan.actions) == [("conflict", "t/a.jpg"), ("create", "t/b.jpg")]
    assert obs.list_requests == 2  # the source page and the one output page read before stopping


def test_ledger_may_be_read_concurrently() -> None:
    storage = MemoryStorage({B: {"img/a.jpg": "e"}})
    d = decl({"o": {"rule": "imageMogr2/strip", "fileid": "small/{name}"}}, ["img/*.jpg"])
    entry = LedgerEntry(B, "img/small/a.jpg", "p.o", "img/a.jpg", "e", "stale", "o", "")
    plan, _ = plan_set(d, storage, lambda: Ledger("s", "3", {(B, entry.key): entry}))
    assert [(a.action.value, a.reason.value) for a in plan.actions] == [("create", "missing")]
    assert plan.ledger_generation == "3"


def test_recorded_outputs_outside_the_listings_are_observed() -> None:
    storage = MemoryStorage({B: {"img/a.jpg": "e", "old/a.png": "o1"}})
    d = decl({"o": {"rule": "imageMogr2/strip", "fileid": "small/{name}"}}, ["img/*.jpg"])
    d = dataclasses.replace(d, retired=(RetiredOutput("p.gone", B, "/old/{stem}.png", ("img/*.jpg",)),))
    entries = {(B, k): LedgerEntry(B, k, "p.gone", "img/a.jpg", "e", "f", "o1", "") for k in ("old/a.png", "old/b.png")}
    plan, _ = plan_set(d, storage, Ledger("s", "2", entries), prune=True)
    assert sorted(storage.heads) == [(B, "old/a.png"), (B, "old/b.png")]
    got = sorted((a.action.value, a.key, a.reason.value) for a in plan.actions)
    assert got == [("create", "img/small/a.jpg", "missing"), ("delete", "old/a.png", "not-declared"),
                   ("orphaned", "old/b.png", "output-gone")]
    assert plan.ledger_generation == "2"


class FakeLedgers:
    def read(self, decl: Any) -> Ledger:
        return Ledger(decl.name)


class FakeBackend:
    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self.ledgers = FakeLedgers()

    def storage(self, region: str) -> MemoryStorage:
        return self._storage


def test_sets_of_one_plan_share_listings() -> None:
    storage = MemoryStorage({B: {f"img/{i}.jpg": "e" for i in range(30)} | {"img/sub/x.jpg": "e"}})
    first = decl({"a": {"rule": "imageMogr2/strip", "fileid": "/t/{name}"}}, ["img/**/*.jpg"])
    second = build_declaration({"version": 1, "name": "other", "region": "ap-guangzhou", "bucket": B,
                                "pipelines": {"q": {"source": {"include": ["img/sub/*.jpg"]},
                                                    "outputs": {"b": {"rule": "imageMogr2/strip",
                                                                      "fileid": "/t/{stem}.png"}}}}}, "o.yaml")
    plan = plan_declarations([first, second], FakeBackend(storage))
    assert sorted(storage.lists) == [(B, "img/"), (B, "t/")]  # img/sub/ and t/ come from the first set's listings
    assert [len(s.calls) for s in plan.sets] == [31, 1]
    assert [a.key for a in plan.sets[1].actions] == ["t/x.png"]
    assert storage.writes == []


def _set(name: str, include: str, fileid: str, bucket: str = B) -> Any:
    return build_declaration({"version": 1, "name": name, "region": "ap-guangzhou", "bucket": B,
                              "pipelines": {"p": {"source": {"include": [include]}, "outputs": {
                                  "o": {"rule": "imageMogr2/strip", "fileid": fileid, "bucket": bucket}}}}},
                             f"{name}.yaml")


def test_two_sets_writing_one_key_are_refused() -> None:
    storage = MemoryStorage({B: {"img/a.jpg": "e", "img/b.jpg": "e", "png/a.png": "e"}, C: {}})
    first = _set("first", "img/*.jpg", "/t/{stem}.webp")
    clash = _set("second", "png/*.png", "/t/{stem}.webp")
    with pytest.raises(CollisionError) as error:
        plan_declarations([first, clash], FakeBackend(storage))
    assert "src-1250000000/t/a.webp: output of set 'first' (first.yaml) and of set 'second' (second.yaml: p.o)" in str(error.value)
    assert "t/b.webp" not in str(error.value)
    # the same prefix, other keys; or another bucket: no collision
    apart = _set("second", "png/*.png", "/t/{stem}-png.webp")
    elsewhere = _set("second", "png/*.png", "/t/{stem}.webp", C)
    for other in (apart, elsewhere):
        plan = plan_declarations([first, other], FakeBackend(storage))
        assert [len(s.calls) for s in plan.sets] == [2, 1]


def test_sets_whose_outputs_cannot_meet_are_not_compared() -> None:
    from reconciler.plan.overlaps import SharedOutputs

    shared = SharedOutputs([_set("a", "img/*.jpg", "/t/{stem}.webp"), _set("b", "img/*.jpg", "/u/{stem}.webp"),
                            _set("c", "img/*.jpg", "/t/x/{stem}.webp", C)])
    assert shared.watch == {}
    meets = SharedOutputs([_set("a", "img/*.jpg", "/t/{stem}.webp"), _set("b", "img/*.jpg", "/t/x/{stem}.webp")])
    assert meets.watch == {0: {B: {"t/"}}, 1: {B: {"t/x/"}}}


class FailingOutputs(MemoryStorage):
    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        if bucket == C:
            raise NotFound("The specified bucket does not exist.", bucket=C, status=404, code="NoSuchBucket",
                           request_id="req-1")
        yield from super().list_objects(bucket, prefix, start_after=start_after)


def test_a_failed_listing_raises_its_storage_error() -> None:
    storage = FailingOutputs({B: {f"img/{i}.jpg": "e" for i in range(60)}})
    d = decl({"cdn": {"rule": "imageMogr2/strip", "fileid": "/t/{name}", "bucket": C}}, ["img/*.jpg"])
    with pytest.raises(NotFound) as info:
        plan_set(d, storage, Ledger("s"))
    assert str(info.value) == "cdn-1250000000: The specified bucket does not exist. (NoSuchBucket, HTTP 404, " \
                              "request id req-1)"
