"""Before apply acts on a plan made from inventory reports: check again, with HEAD requests, every key of a
covered bucket it would write, delete or process, and keep only what the report still tells right.

A report is eventually consistent and a day old at best: an object may have been written, overwritten or deleted
since. For each call on a source in a covered bucket, the source must still stand with the ETag the plan was made
from (else the whole call is dropped); for each output key in a covered bucket, what stands there now must be what
the report showed (the same ETag, or absent in both), else that rule is dropped; a delete in a covered bucket is
kept only when the object still stands with the reported ETag. So a stale report makes apply do less, never more:
what is dropped is planned again by the next run, from a newer report or a listing. Keys of buckets listed today
are not checked (the listing is as fresh as a plan gets). The HEADs run concurrently, ahead of the calls.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from array import array

from reconciler.model import ActionKind, Call, Plan, PlanActions, SetPlan
from reconciler.observe.inventories import Inventories

WORKERS = 16  # HEADs in flight at once


@dataclass
class Rechecked:
    """The plan as still true, the HEADs it took, and what was dropped: (bucket, key, why)."""

    plan: Plan
    heads: int = 0
    dropped: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        if not self.dropped:
            return f"Checked {self.heads} key(s) of the inventoried buckets again: all as the report shows."
        return (f"Checked {self.heads} key(s) of the inventoried buckets again: {len(self.dropped)} changed since "
                "the report and are left for the next run (a stale report does less, never more).")


def keys_to_check(plan: Plan, inventories: Inventories) -> dict[str, set[str]]:
    """bucket -> the keys of covered buckets the plan would process, write or delete (what ``recheck`` HEADs)."""
    wanted: dict[str, set[str]] = {}
    for s in plan.sets:
        for call in s.calls:
            if inventories.covers(call.bucket):
                wanted.setdefault(call.bucket, set()).add(call.key)
            for target, key in call.pairs():
                if inventories.covers(target.bucket):
                    wanted.setdefault(target.bucket, set()).add(key)
        for a in s.other_actions():
            if a.action is ActionKind.DELETE and inventories.covers(a.bucket):
                wanted.setdefault(a.bucket, set()).add(a.key)
    return wanted


def recheck(plan: Plan, inventories: Inventories, workers: int = WORKERS) -> Rechecked:
    """``plan`` without what changed since the reports (HEAD now vs the report, key by key)."""
    if not inventories:
        return Rechecked(plan)
    wanted = keys_to_check(plan, inventories)
    reported = {b: _reported(inventories, b, keys) for b, keys in wanted.items()}
    now = _heads(wanted, workers, inventories)
    result = Rechecked(plan, heads=sum(len(k) for k in wanted.values()))

    def fresh(bucket: str, key: str) -> bool:
        return not inventories.covers(bucket) or now[bucket].get(key) == reported[bucket].get(key)

    sets = tuple(_kept(s, fresh, result.dropped) for s in plan.sets)
    result.plan = Plan(sets)
    return result


def _reported(inventories: Inventories, bucket: str, keys: set[str]) -> dict[str, str]:
    """key -> ETag in the report, for ``keys`` only (one pass over the report)."""
    found: dict[str, str] = {}
    for o in inventories.objects(bucket):
        if o.key in keys:
            found[o.key] = o.etag
    return found


def _heads(wanted: dict[str, set[str]], workers: int, inventories: Inventories) -> dict[str, dict[str, str]]:
    """bucket -> key -> ETag standing now (absent keys left out)."""
    jobs = [(b, k) for b, keys in wanted.items() for k in sorted(keys)]
    now: dict[str, dict[str, str]] = {b: {} for b in wanted}

    def head(job: tuple[str, str]) -> tuple[str, str, str | None]:
        bucket, key = job
        info = inventories.head(bucket, key)
        return bucket, key, None if info is None else info.etag

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cosrecon-recheck") as pool:
        for bucket, key, etag in pool.map(head, jobs):
            if etag is not None:
                now[bucket][key] = etag
    return now


def _kept(s: SetPlan, fresh: Callable[[str, str], bool], dropped: list[tuple[str, str, str]]) -> SetPlan:
    calls: list[Call] = []
    kept_sizes = array("q")
    sizes = list(s.source_sizes) if s.source_sizes is not None and len(s.source_sizes) == len(s.calls) else None
    for i, call in enumerate(s.calls):
        if not fresh(call.bucket, call.key):
            dropped.append((call.bucket, call.key, "source changed or gone since the report"))
            continue
        pairs = [(t, k) for t, k in call.pairs() if fresh(t.bucket, k)]
        dropped.extend((t.bucket, k, "output changed since the report") for t, k in call.pairs()
                       if not fresh(t.bucket, k))
        if not pairs:
            continue
        if len(pairs) < call.size:
            call = call._replace(targets=tuple(t for t, _ in pairs), keys=tuple(k for _, k in pairs))
        calls.append(call)
        if sizes is not None:
            kept_sizes.append(sizes[i])
    others = []
    for a in s.other_actions():
        if a.action is ActionKind.DELETE and not fresh(a.bucket, a.key):
            dropped.append((a.bucket, a.key, "changed or gone since the report"))
            continue
        others.append(a)
    if len(calls) == len(s.calls) and len(others) == len(s.other_actions()):
        return s
    return replace(s, actions=PlanActions(tuple(calls), others), calls=tuple(calls),
                   source_sizes=kept_sizes if sizes is not None else None)
