"""The order an apply makes its calls in (``apply --order newest|oldest|key``).

``newest`` (the default) makes the calls of the most recently modified sources first — by each source's
LastModified as the listing showed it (``SetPlan.source_mtimes``) — so that in a long backfill what was uploaded
last (what users look at) is processed first; ``oldest`` the reverse; ``key`` the plan's own order (sets in the
order given, keys in listing order). Calls whose source time is unknown (a saved plan, an older planner) go after
the known ones, in plan order; ties keep plan order. Values only: no requests, no clock.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Generic, Protocol, TypeVar, overload

from reconciler.model import Call, SetPlan


class Order(str, Enum):
    NEWEST = "newest"
    OLDEST = "oldest"
    KEY = "key"

    def __str__(self) -> str:
        return self.value


class HasPlan(Protocol):
    @property
    def plan(self) -> SetPlan: ...


R = TypeVar("R", bound=HasPlan)
UNKNOWN = 2 * 10 ** 17  # after every ``sortable_time`` (17 digits)


def _known_mtimes(set_plan: SetPlan) -> Sequence[int] | None:
    mtimes = set_plan.source_mtimes
    return mtimes if mtimes is not None and len(mtimes) == len(set_plan.calls) else None


class OrderedCalls(Sequence[tuple[R, Call]], Generic[R]):
    """Every (run, call) of ``runs`` in ``order``, made when asked for: the order is held as two integer arrays
    (which run, which call: 12 bytes a call), not as a list of pairs."""

    def __init__(self, runs: Sequence[R], order: Order = Order.NEWEST) -> None:
        self.runs = runs
        self.run_of = array("l")
        self.call_of = array("q")
        if order is Order.KEY:
            for r, run in enumerate(runs):
                n = len(run.plan.calls)
                self.run_of.extend([r] * n)
                self.call_of.extend(range(n))
            return
        newest = order is Order.NEWEST
        # every call's time in one int array (unknown: last in either order), then one stable sort of the call
        # numbers by it (reverse=True keeps ties in plan order too); no tuple or big int per call
        times = array("q")
        starts: list[int] = []
        for run in runs:
            starts.append(len(times))
            mtimes, n = _known_mtimes(run.plan), len(run.plan.calls)
            if mtimes is None:
                times.extend([-1 if newest else UNKNOWN] * n)
            elif newest:
                times.extend(mtimes)
            else:
                times.extend(t if t >= 0 else UNKNOWN for t in mtimes)
        ranked = sorted(range(len(times)), key=times.__getitem__, reverse=newest)
        if len(starts) == 1:
            self.run_of = array("l", [0]) * len(ranked)
            self.call_of = array("q", ranked)
            return
        for g in ranked:
            r = bisect_right(starts, g) - 1  # the last run starting at or before g (empty runs start there too)
            self.run_of.append(r)
            self.call_of.append(g - starts[r])

    def __len__(self) -> int:
        return len(self.call_of)

    @overload
    def __getitem__(self, index: int) -> tuple[R, Call]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[R, Call]]: ...

    def __getitem__(self, index: int | slice) -> tuple[R, Call] | list[tuple[R, Call]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        run = self.runs[self.run_of[index]]
        return run, run.plan.calls[self.call_of[index]]

    def __iter__(self) -> Iterator[tuple[R, Call]]:
        runs = self.runs
        for r, i in zip(self.run_of, self.call_of):
            yield runs[r], runs[r].plan.calls[i]
