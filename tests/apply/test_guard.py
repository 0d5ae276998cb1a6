"""The pure rules of what apply may touch (``plan.guard``, ``plan.ownership``): which ledger entries a declared
output could have written, which keys are protected, how owner prefixes overlap. Table-driven, no server."""

from __future__ import annotations

import pytest

from reconciler.plan.guard import Guard
from reconciler.plan.ownership import OutputDef, OwnerIndex, declared_outputs, overlaps
from reconciler.model import LedgerEntry

from tests.apply.conftest import OUT, SRC, declaration


def entry(key: str, source: str, address: str = "photos.thumb", bucket: str = SRC) -> LedgerEntry:
    return LedgerEntry(bucket, key, address, source, "e", "f", "o", "2026-01-01T00:00:00Z")


@pytest.mark.parametrize("fileid, include, exclude, made, makes", [
    ("/thumbs/{reldir}/{stem}.webp", ("photos/**/*.jpg",), (), entry("thumbs/x/a.webp", "photos/x/a.jpg"), True),
    ("/thumbs/{reldir}/{stem}.webp", ("photos/**/*.jpg",), (), entry("important/contract.pdf", "photos/a.jpg"),
     False),
    ("/thumbs/{reldir}/{stem}.webp", ("photos/**/*.jpg",), (), entry("thumbs/a.webp", "other/a.jpg"), False),
    ("/thumbs/{reldir}/{stem}.webp", ("photos/**/*.jpg",), ("photos/raw/**",),
     entry("thumbs/raw/a.webp", "photos/raw/a.jpg"), False),
    ("/thumbs/{reldir}/{stem}.webp", ("photos/**/*.jpg",), (), entry("thumbs/a.webp", "photos/a.jpg", bucket=OUT),
     False),
    ("/thumbs/{reldir}/{stem}.webp", ("photos/**/*.jpg",), (), entry("thumbs/a.webp", "photos/a.jpg", "photos.png"),
     False),
    ("small/{stem}.png", ("photos/**/*.jpg",), (), entry("photos/x/small/a.png", "photos/x/a.jpg"), True),
    ("small/{stem}.png", ("photos/**/*.jpg",), (), entry("small/a.png", "photos/x/a.jpg"), False),
])
def test_an_output_makes_exactly_the_keys_its_template_renders(fileid: str, include: tuple[str, ...],
                                                                exclude: tuple[str, ...], made: LedgerEntry,
                                                                makes: bool) -> None:
    assert OutputDef("photos.thumb", SRC, fileid, include, exclude).makes(made) is makes


def test_protected_keys() -> None:
    shop, other = declaration("shop"), declaration("other", include=("raw/**/*.jpg",))
    guard = Guard([shop, other], {"shop": {(SRC, "big/a.png"): "gallery"}})
    assert guard.protected("shop", SRC, "raw/a.jpg") == "a source of set 'other'"
    assert guard.protected("shop", SRC, "raw/a.jpg", writing=True) == "a source of set 'other'"
    assert guard.protected("shop", SRC, "photos/a.jpg") == "a source of set 'shop'"  # never deleted
    assert guard.protected("shop", SRC, "photos/a.jpg", writing=True) is None  # own source: the planner decides
    assert "state prefix" in (guard.protected("shop", SRC, ".cosrecon/other/ledger.jsonl") or "")
    assert guard.protected("shop", SRC, "big/a.png") == "an output of set 'gallery' (its ledger records it)"
    assert guard.protected("shop", SRC, "thumbs/a.webp") is None
    assert guard.protected("shop", OUT, "photos/a.jpg") is None  # another bucket: not a source there


def test_the_last_applied_declaration_grants_what_it_declared_and_nothing_else() -> None:
    current = declaration(outputs={"thumb": {"rule": "imageMogr2/format/png", "fileid": "/thumbs/{stem}.png"}})
    last = dict(declaration().document)  # declared thumb and png under other templates
    png = entry("png/a.png", "photos/a.jpg", "photos.png")
    assert Guard([current]).could_have_written(current, png, last)
    assert not Guard([current]).could_have_written(current, png, None)
    assert not Guard([current]).could_have_written(current, entry("contract.pdf", "photos/a.jpg", "photos.png"), last)
    assert not Guard([current]).could_have_written(current, png, {"not": "a declaration"})
    assert Guard([current], history={"shop": declared_outputs(declaration())}).could_have_written(current, png, None)


def test_owner_prefixes_overlap_only_where_keys_could_meet() -> None:
    index = OwnerIndex("shop", "", "shop.yaml", declared_outputs(declaration()))
    assert index.prefixes() == {SRC: {"thumbs/", "png/"}}
    assert overlaps(index.prefixes(), {SRC: {"thumbs/x/"}})
    assert overlaps(index.prefixes(), {SRC: {""}})  # a relative fileid at the bucket's root: may meet anything
    assert not overlaps(index.prefixes(), {SRC: {"big/"}, OUT: {"thumbs/"}})
    assert OwnerIndex.from_data(index.to_data(), "x") == index
