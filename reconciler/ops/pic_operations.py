"""The Pic-Operations headers an application's own upload code should send for a key (``cosrecon pic-operations``).

The planner is asked what a first apply would make for the key standing alone in its bucket (an empty ledger,
nothing at the output keys), in every set whose source bucket it is and whose globs select it; the calls are packed
across sets as ``cosrecon upload`` packs them (``packing``) and written as ``engine.pic_operations`` writes them.
Pure: no request is made.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.apply.engine import pic_operations
from reconciler.apply.packing import merged, pack
from reconciler.errors import UsageError
from reconciler.model import Call, Declaration, Ledger, SourceList
from reconciler.plan.extra import selects
from reconciler.plan.planner import build_set_plan

_ANY_ETAG = "0" * 32


def selecting_sets(decls: Sequence[Declaration], key: str, bucket: str | None) -> list[Declaration]:
    """The sets whose globs select ``key`` (of ``bucket``, when given); UsageError when they use several buckets
    and none was chosen."""
    sets = [d for d in decls if (bucket is None or d.bucket == bucket) and selects(d, key)]
    buckets = sorted({d.bucket for d in sets})
    if len(buckets) > 1:
        raise UsageError(f"key {key!r} is a source of sets in buckets {', '.join(buckets)}: choose one with --bucket")
    return sets


def upload_headers(decls: Sequence[Declaration], key: str, bucket: str | None = None) -> list[str]:
    """One Pic-Operations header per request (the first goes on the PUT, the others on image_process calls after
    it); [] when no set selects ``key``."""
    calls: list[tuple[str, Call]] = []
    for decl in selecting_sets(decls, key, bucket):
        plan = build_set_plan(decl, SourceList([key], {key: _ANY_ETAG}), {}, Ledger(decl.name))
        calls.extend((decl.name, call) for call in plan.calls)
    return [pic_operations(merged(group)) for group in pack(calls)]
