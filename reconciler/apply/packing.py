"""Rules of several sets packed into shared requests, for sources ``cosrecon upload`` puts (and the headers
``cosrecon pic-operations`` prints).

The outputs one source key gets from every set are taken in set order, then in each set's call order (address
order, as the planner packs them), and cut into requests of at most ``MAX_RULES_PER_CALL`` rules: the first is the
upload's Pic-Operations, the others follow-up image_process calls. Each request is a list of pieces, ``(owner,
Call)``: the part of one set's call it carries, so every output is recorded in its own set's ledger. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from reconciler.model import MAX_RULES_PER_CALL, Call

T = TypeVar("T")


def pack(calls: Sequence[tuple[T, Call]], size: int = MAX_RULES_PER_CALL) -> list[list[tuple[T, Call]]]:
    """``calls`` (all on one source key, in set order) cut into requests of at most ``size`` rules."""
    requests: list[list[tuple[T, Call]]] = []
    room = 0
    for owner, call in calls:
        start = 0
        while start < call.size:
            if room == 0:
                requests.append([])
                room = size
            end = min(call.size, start + room)
            requests[-1].append((owner, Call(call.bucket, call.key, call.source_etag, call.targets[start:end],
                                             call.keys[start:end])))
            room -= end - start
            start = end
    return requests


def merged(pieces: Sequence[tuple[T, Call]]) -> Call:
    """One call of every rule of ``pieces`` (one source key): what a single request sends."""
    first = pieces[0][1]
    return Call(first.bucket, first.key, first.source_etag, tuple(t for _, c in pieces for t in c.targets),
                tuple(k for _, c in pieces for k in c.keys))
