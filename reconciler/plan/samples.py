"""A preview's values and the pure choice of what to sample (``cosrecon preview``, rendered by ``render.gallery``).

For every output address a plan would create or replace, a few sample sources are chosen (``choose_samples``:
deterministic, spread over the sizes and formats present, the largest included). The fetching is the preview
operation's (``ops.preview``); these values are what it returns and what the gallery renders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.model import ActionKind, SetPlan
from reconciler.observe.imagefacts import ImageFacts

DEFAULT_SAMPLES = 3


@dataclass(frozen=True)
class Candidate:
    """A source an output address would be made from, and the output that stands for it (replace)."""

    source: str
    size: int | None  # None when the plan does not know it
    output_bucket: str
    output_key: str
    rule: str
    replace: bool


@dataclass(frozen=True)
class Shot:
    """One fetched image: where it was written (relative to ``out``) and what it is."""

    path: str
    facts: ImageFacts


@dataclass(frozen=True)
class Sample:
    """One sample of an output address: the source, its "after" (processed now) and its "before" (standing)."""

    address: str
    source: str
    output_key: str
    after: Shot | None
    before: Shot | None
    error: str = ""  # why "after" (or "before") is missing
    source_size: int = 0  # 0 when the plan does not know it


@dataclass(frozen=True)
class AddressPreview:
    set_name: str
    address: str
    rule: str
    action: str  # "create" or "replace"
    candidates: int
    samples: tuple[Sample, ...]
    skipped: str = ""  # the service's reason when the rule cannot be processed during download

    @property
    def size_ratio(self) -> float | None:
        """Mean size of "after" over its source's size, for the estimate (None when nothing was measured)."""
        ratios = [s.after.facts.size / s.source_size for s in self.samples if s.after is not None and s.source_size]
        return sum(ratios) / len(ratios) if ratios else None


@dataclass(frozen=True)
class Preview:
    addresses: tuple[AddressPreview, ...]
    requests: int  # processing-during-download requests made
    downloads: int  # plain GETs of standing outputs


def _order(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _format(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def choose_samples(candidates: Sequence[Candidate], n: int) -> list[Candidate]:
    """PURE: ``n`` candidates, deterministic: the largest first, then spread evenly over the sizes present while
    taking each format in turn; sizes unknown: a stable hash order, formats in turn."""
    if n <= 0 or not candidates:
        return []
    known = all(c.size is not None for c in candidates)
    ordered = sorted(candidates, key=(lambda c: (-(c.size or 0), c.source)) if known else (lambda c: _order(c.source)))
    chosen = [ordered[0]]
    by_format: dict[str, list[Candidate]] = {}
    for c in ordered[1:]:
        by_format.setdefault(_format(c.source), []).append(c)
    formats = sorted(by_format, key=lambda f: (f != _format(chosen[0].source), f))
    while len(chosen) < n and any(by_format.values()):
        for fmt in formats:
            pool = by_format[fmt]
            if not pool or len(chosen) >= n:
                continue
            left = n - len(chosen)
            step = max(1, len(pool) // max(left, 1))
            chosen.append(pool.pop(min(len(pool) - 1, step - 1) if known else 0))
    return chosen


def candidates_of(set_plan: SetPlan) -> dict[str, list[Candidate]]:
    """Every create/replace of ``set_plan``'s calls by output address, with its source's size when known."""
    found: dict[str, list[Candidate]] = {}
    for call, size in set_plan.sized_calls():
        rules = {(op.bucket, op.key): op.rule for op in call.rules}
        for change in call.changes():
            if change.action in (ActionKind.CREATE, ActionKind.REPLACE):
                found.setdefault(change.address, []).append(Candidate(
                    call.key, size, change.bucket, change.key, rules[(change.bucket, change.key)],
                    change.action is ActionKind.REPLACE))
    return found


def size_ratios(preview: Preview) -> Mapping[tuple[str, str], float]:
    """Output/source size ratio per (set, output address) measured by the preview (for the plan estimate)."""
    return {(a.set_name, a.address): ratio for a in preview.addresses if (ratio := a.size_ratio) is not None}
