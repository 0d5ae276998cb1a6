"""Each call's source size, as the listing showed it, carried on the plan (``SetPlan.source_sizes``) for the estimate
and the preview: one merge walk over the sources, kept through reused listings and --target, unknown (not guessed)
when the plan cannot know it."""

from __future__ import annotations

from typing import Any

from reconciler.declare.load import build_declaration
from reconciler.model import Call, Ledger, SetPlan
from reconciler.plan.observed import call_sizes, plan_declarations
from reconciler.plan.targets import Address, select_targets
from reconciler.storage.memory import MemoryStorage
from tests.planner.conftest import B, decl


class FakeLedgers:
    def read(self, decl: Any) -> Ledger:
        return Ledger(decl.name)


class FakeBackend:
    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self.ledgers = FakeLedgers()

    def storage(self, region: str) -> MemoryStorage:
        return self._storage


def storage_of(sizes: dict[str, int]) -> MemoryStorage:
    storage = MemoryStorage({B: {key: f"e{i}" for i, key in enumerate(sizes)}})
    for key, size in sizes.items():
        storage.bodies[(B, key)] = b"x" * size
    return storage


SIZES = {"img/a.jpg": 10, "img/b.jpg": 700, "img/c.png": 33, "img/sub/d.jpg": 5, "other/e.jpg": 9}


def sizes_of(s: SetPlan) -> list[tuple[str, int | None]]:
    return [(call.key, size) for call, size in s.sized_calls()]


def test_each_call_carries_its_sources_listed_size() -> None:
    six = {f"o{i}": {"rule": "imageMogr2/strip", "fileid": f"/t{i}/{{name}}"} for i in range(6)}
    plan = plan_declarations([decl(six, ["img/**/*"])], FakeBackend(storage_of(SIZES)))
    # six rules make two calls per source (at most five rules a call), both with the source's size
    expected = [(k, SIZES[k]) for k in sorted(SIZES) if k.startswith("img/") for _ in range(2)]
    assert sizes_of(plan.sets[0]) == expected


def test_a_reused_listing_still_gives_sizes() -> None:
    storage = storage_of(SIZES)
    first = decl({"a": {"rule": "imageMogr2/strip", "fileid": "/t/{name}"}}, ["img/**/*"])
    second = build_declaration({"version": 1, "name": "other", "region": "ap-guangzhou", "bucket": B,
                                "pipelines": {"q": {"source": {"include": ["img/sub/*.jpg"]},
                                                    "outputs": {"b": {"rule": "imageMogr2/strip",
                                                                      "fileid": "/t/{stem}.png"}}}}}, "o.yaml")
    plan = plan_declarations([first, second], FakeBackend(storage))
    assert (B, "img/sub/") not in storage.lists  # the second set's sources come from the first set's listing
    assert sizes_of(plan.sets[1]) == [("img/sub/d.jpg", 5)]


def test_sizes_follow_the_calls_a_target_keeps() -> None:
    outputs = {"a": {"rule": "imageMogr2/strip", "fileid": "/t/{name}"},
               "b": {"rule": "imageMogr2/strip", "fileid": "/u/{stem}.png"}}
    sizes = {"img/a.jpg": 10, "img/b.jpg": 700}
    d = build_declaration({"version": 1, "name": "s", "region": "ap-guangzhou", "bucket": B, "pipelines": {
        "p": {"source": {"include": ["img/a.jpg"]}, "outputs": {"a": outputs["a"]}},
        "q": {"source": {"include": ["img/b.jpg"]}, "outputs": {"b": outputs["b"]}}}}, "s.yaml")
    plan = plan_declarations([d], FakeBackend(storage_of(sizes)))
    narrowed = select_targets(plan, [Address("s", "q", "b")])
    assert sizes_of(narrowed.sets[0]) == [("img/b.jpg", 700)]


def test_calls_out_of_source_order_or_a_saved_plan_have_unknown_sizes() -> None:
    calls = [Call(B, "b", "e", (), ()), Call(B, "a", "e", (), ())]
    assert call_sizes(calls, ["a", "b"], [1, 2]) is None
    assert call_sizes(calls[::-1], ["a", "b"], [1, 2]) is not None
    saved = SetPlan("s", "d", "0", (), tuple(calls), {})  # a plan read from a file has no sizes
    assert [size for _, size in saved.sized_calls()] == [None, None]
    shown = SetPlan("s", "d", "0", (), tuple(calls), {}, source_sizes=[4, -1])  # -1: the listing did not show it
    assert [size for _, size in shown.sized_calls()] == [4, None]


def test_sources_from_several_listings_keep_their_sizes() -> None:
    d = build_declaration({"version": 1, "name": "s", "region": "ap-guangzhou", "bucket": B, "pipelines": {
        "p": {"source": {"include": ["img/a.jpg"]},
              "outputs": {"a": {"rule": "imageMogr2/strip", "fileid": "/t/{name}"}}},
        "q": {"source": {"include": ["other/*.jpg"]},
              "outputs": {"b": {"rule": "imageMogr2/strip", "fileid": "/u/{stem}.png"}}}}}, "s.yaml")
    storage = storage_of(SIZES)
    plan = plan_declarations([d], FakeBackend(storage))
    assert {(B, "img/a.jpg"), (B, "other/")} <= set(storage.lists)  # two source listings, their sizes joined
    assert sizes_of(plan.sets[0]) == [("img/a.jpg", 10), ("other/e.jpg", 9)]


def _set(name: str, include: list[str], fileid: str) -> Any:
    return build_declaration({"version": 1, "name": name, "region": "ap-guangzhou", "bucket": B,
                              "pipelines": {"q": {"source": {"include": include},
                                                  "outputs": {"b": {"rule": "imageMogr2/strip",
                                                                    "fileid": fileid}}}}}, f"{name}.yaml")


def test_two_sets_on_one_bucket_each_have_their_sources_sizes() -> None:
    """Issue 26 point 3: the second set reused the first set's listing, which kept sizes for the first set's sources
    only, so the second set's were unknown ("unknown of sources processed"). Every object kept has its size now."""
    storage = storage_of(SIZES)
    first = _set("jpegs", ["**/*.jpg"], "/t/{stem}.webp")  # lists the whole bucket ("" prefix)
    second = _set("pngs", ["img/*.png"], "/u/{stem}.webp")
    plan = plan_declarations([first, second], FakeBackend(storage))
    assert sizes_of(plan.sets[1]) == [("img/c.png", 33)]
    assert sizes_of(plan.sets[0]) == [(k, SIZES[k]) for k in sorted(SIZES) if k.endswith(".jpg")]


def test_a_set_whose_sources_an_output_listing_showed_has_their_sizes() -> None:
    storage = storage_of(SIZES)
    first = _set("roots", ["img/a.jpg"], "/{stem}.webp")  # outputs at the bucket root: "" listed for outputs
    second = _set("others", ["other/*.jpg"], "/v/{stem}.webp")
    plan = plan_declarations([first, second], FakeBackend(storage))
    assert sizes_of(plan.sets[1]) == [("other/e.jpg", 9)]
