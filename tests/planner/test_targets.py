"""plan.targets on values: addresses parsed against the declarations, replacements by address or key, and the
ledger a replacement plans from (chosen outputs' ETags forgotten, nothing else touched)."""

from __future__ import annotations

import pytest

from reconciler.declare.load import build_declaration
from reconciler.errors import UsageError
from reconciler.model import Ledger, LedgerEntry
from reconciler.plan.targets import (FORGOTTEN_ETAG, Address, Replacement, mark_for_replacement, parse_address,
                                     parse_replacement, unmatched_replacements)

DECL = build_declaration({
    "version": 1, "name": "shop", "region": "ap-guangzhou", "bucket": "src-1250000000",
    "pipelines": {"photos": {"source": {"include": ["photos/*.jpg"]}, "outputs": {
        "thumb": {"rule": "imageMogr2/format/webp", "fileid": "/t/{stem}.webp"},
        "cdn": {"rule": "imageMogr2/format/webp", "fileid": "/c/{stem}.webp", "bucket": "cdn-1250000000"}}}}},
    "shop.yaml")


def entry(address: str, bucket: str, key: str) -> LedgerEntry:
    return LedgerEntry(bucket, key, address, "photos/a.jpg", "s" * 32, "fp", "o" * 32, "2026-11-30T00:00:00Z")


LEDGER = Ledger("shop", "3", {(e.bucket, e.key): e for e in (
    entry("photos.thumb", "src-1250000000", "t/a.webp"), entry("photos.cdn", "cdn-1250000000", "c/a.webp"))})


def test_addresses() -> None:
    assert parse_address("shop", [DECL]) == Address("shop")
    assert parse_address("shop.photos.thumb", [DECL]) == Address("shop", "photos", "thumb")
    assert parse_address("shop.gone", [DECL]) == Address("shop", "gone")  # may still be recorded
    assert Address("shop", "photos").covers("shop", "photos.cdn")
    assert not Address("shop", "photos", "thumb").covers("shop", "photos.cdn")
    assert not Address("shop").covers("other", "photos.thumb")
    for bad in ("other", "shop.a.b.c", "shop..thumb", ""):
        with pytest.raises(UsageError, match="no such set, pipeline or output is declared"):
            parse_address(bad, [DECL])


def test_replacements_by_address_bucket_key_and_key() -> None:
    assert parse_replacement("shop.photos", [DECL]).address == Address("shop", "photos")
    assert parse_replacement("cdn-1250000000/c/a.webp", [DECL]) == Replacement(
        "cdn-1250000000/c/a.webp", bucket="cdn-1250000000", key="c/a.webp")
    assert parse_replacement("t/a.webp", [DECL]) == Replacement("t/a.webp", key="t/a.webp")


def test_marking_forgets_only_the_chosen_etags() -> None:
    chosen = [parse_replacement("cdn-1250000000/c/a.webp", [DECL])]
    marked = mark_for_replacement(LEDGER, "shop", chosen)
    assert marked.entries[("cdn-1250000000", "c/a.webp")].output_etag == FORGOTTEN_ETAG
    assert marked.entries[("src-1250000000", "t/a.webp")] == LEDGER.entries[("src-1250000000", "t/a.webp")]
    assert (marked.name, marked.generation) == (LEDGER.name, LEDGER.generation)
    assert mark_for_replacement(LEDGER, "shop", []) is LEDGER
    nothing = [parse_replacement("t/zzz.webp", [DECL])]
    assert unmatched_replacements({"shop": LEDGER}, nothing + chosen) == nothing
