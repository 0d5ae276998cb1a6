"""The pure rules of what apply may touch (``plan.guard``, ``declare.authority``, ``plan.ownership``): which ledger
entries a declared or retired output could have written, which keys are protected, how owner prefixes overlap.
Table-driven, no server."""

from __future__ import annotations

import pytest

from reconciler.declare.authority import OutputDef, declared_outputs, retiring
from reconciler.declare.load import build_declaration
from reconciler.plan.guard import Guard
from reconciler.plan.ownership import OwnerIndex, overlaps
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


def test_only_the_declaration_as_given_grants_never_what_state_remembers() -> None:
    """The ledger header's last-applied declaration and the owner index are not consulted: a png output the set no
    longer declares may be pruned only once the declaration lists it under retired:."""
    current = declaration(outputs={"thumb": {"rule": "imageMogr2/format/png", "fileid": "/thumbs/{stem}.png"}})
    png = entry("png/a.png", "photos/a.jpg", "photos.png")
    assert not Guard([current]).could_have_written(current, png)
    data = {**dict(current.document), "retired": [{"address": "photos.png", "fileid": "/png/{reldir}/{stem}.png",
                                                   "include": ["photos/**/*.jpg"]}]}
    retired = build_declaration(data, "shop.yaml")
    assert Guard([retired]).could_have_written(retired, png)
    assert not Guard([retired]).could_have_written(retired, entry("contract.pdf", "photos/a.jpg", "photos.png"))
    assert not Guard([retired]).could_have_written(retired, entry("png/a.png", "photos/a.jpg", "photos.png", OUT))
    assert not Guard([retired]).could_have_written(retired, entry("png/a.png", "zz/a.jpg", "photos.png"))


def test_destroy_may_delete_only_what_the_declaration_as_given_could_have_written() -> None:
    decl = retiring(declaration())
    assert decl.pipelines == () and decl.prune
    guard = Guard([decl])
    assert guard.could_have_written(decl, entry("thumbs/x/a.webp", "photos/x/a.jpg"))
    assert guard.could_have_written(decl, entry("png/a.png", "photos/a.jpg", "photos.png"))
    assert not guard.could_have_written(decl, entry("thumbs/x/a.webp", "photos/x/a.jpg", bucket=OUT))
    assert not guard.could_have_written(decl, entry("backups/db.sql", "zz/backups/db.sql", "photos.zz"))


def test_owner_prefixes_overlap_only_where_keys_could_meet() -> None:
    index = OwnerIndex("shop", "", "shop.yaml", declared_outputs(declaration()))
    assert index.prefixes() == {SRC: {"thumbs/", "png/"}}
    assert overlaps(index.prefixes(), {SRC: {"thumbs/x/"}})
    assert overlaps(index.prefixes(), {SRC: {""}})  # a relative fileid at the bucket's root: may meet anything
    assert not overlaps(index.prefixes(), {SRC: {"big/"}, OUT: {"thumbs/"}})
    assert OwnerIndex.from_data(index.to_data(), "x") == index
