"""What part of the world one plan looks at, and how it is read: ``--inventory`` (buckets listed from COS Inventory
reports), ``--source-prefix`` (only sources under these key prefixes) and ``--shard I/N`` (only the sources a hash
puts in shard I of N).

- Source prefixes narrow what is observed: the source listings are cut to the prefixes and the ledger the planner
  is given keeps only the entries whose source lies under them, so orphans and deletes are found (and shown) only
  there, and unchanged outputs are counted only there.
- A shard is cut from the whole set's plan (``shard_set_plan``): every source is observed and every declared key
  computed, so collisions are still checked over the whole set; the shard keeps the calls of its sources, the
  conflicts, orphans and deletes of its sources (an action with no source known: of its key), and counts as
  unchanged the declared outputs of its sources that need nothing. Shards are disjoint and together the whole plan.
  The hash is the first 8 bytes of BLAKE2b of the source key (UTF-8): stable across runs, machines and Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from array import array

from reconciler.errors import UsageError
from reconciler.model import ActionKind, Declaration, Ledger, PlanActions, SetPlan, SourceList
from reconciler.observe.inventories import Inventories
from reconciler.plan.planner import expected_outputs
from reconciler.storage import Storage


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1 <= index <= count)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N``; UsageError otherwise."""
        left, _, right = text.partition("/")
        if not (left.strip().isdigit() and right.strip().isdigit()):
            raise UsageError(f"--shard {text!r}: expected I/N, e.g. 1/4")
        index, count = int(left), int(right)
        if not 1 <= index <= count:
            raise UsageError(f"--shard {text!r}: I must be 1 to N")
        return cls(index, count)

    def owns(self, key: str) -> bool:
        """Whether the source ``key`` is in this shard."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Scope:
    """The reading and the narrowing of one plan: none of it can make a plan do more than the whole one."""

    inventories: Inventories = field(default_factory=Inventories)
    source_prefixes: tuple[str, ...] = ()
    shard: Shard | None = None

    def narrow_ledger(self, ledger: Ledger) -> Ledger:
        """``ledger`` with only the entries whose source lies under the source prefixes (all without them)."""
        prefixes = self.source_prefixes
        if not prefixes or not ledger.entries:
            return ledger
        kept = {where: e for where, e in ledger.entries.items() if e.source_key.startswith(prefixes)}
        return replace(ledger, entries=kept)

    def notes(self) -> list[str]:
        """What the plan shows of its scope: each report's date, the prefixes, the shard."""
        lines = self.inventories.notes()
        if self.source_prefixes:
            lines.append("Only sources under " + ", ".join(repr(p) for p in self.source_prefixes)
                         + " (--source-prefix): orphans and deletes elsewhere are not shown.")
        if self.shard is not None:
            lines.append(f"Shard {self.shard} (--shard): only the sources a hash of their key puts in it.")
        return lines


def narrow_prefixes(prefixes: Iterable[str], within: Sequence[str]) -> tuple[str, ...]:
    """The listing prefixes of ``prefixes`` cut to ``within``: for each pair the longer one when one starts the
    other; pairs that do not overlap give nothing. ``within`` empty: ``prefixes`` as they are."""
    prefixes = tuple(prefixes)
    if not within:
        return prefixes
    cut = {q if q.startswith(p) else p for p in prefixes for q in within if q.startswith(p) or p.startswith(q)}
    return tuple(sorted(c for c in cut if not any(c != o and c.startswith(o) for o in cut)))


def shard_set_plan(plan: SetPlan, decl: Declaration, sources: SourceList, shard: Shard | None) -> SetPlan:
    """The part of ``plan`` (the whole set's, made from ``sources``) that belongs to ``shard``."""
    if shard is None:
        return plan
    owns = shard.owns
    kept = [i for i, c in enumerate(plan.calls) if owns(c.key)]
    calls = tuple(plan.calls[i] for i in kept)
    others = tuple(a for a in plan.other_actions() if owns(a.source or a.key))
    sizes = plan.source_sizes
    if sizes is not None and len(sizes) == len(plan.calls):
        sizes = array("q", (sizes[i] for i in kept))
    acted = {(a.bucket, a.key) for a in others if a.action is ActionKind.CONFLICT}
    acted.update((t.bucket, k) for c in calls for t, k in c.pairs())
    unchanged = dict.fromkeys(plan.unchanged, 0)
    if any(plan.unchanged.values()):
        owned = SourceList([k for k in sources.keys if owns(k)], sources.etags)
        for address, bucket, key in expected_outputs(decl, owned):
            if address in unchanged and (bucket, key) not in acted:
                unchanged[address] += 1
    return replace(plan, actions=PlanActions(calls, others), calls=calls, unchanged=unchanged, source_sizes=sizes)


@dataclass(frozen=True)
class ScopeRequest:
    """The scope as the options give it; ``open`` reads the inventory reports (before anything is listed)."""

    inventory: tuple[str, ...] = ()  # cos://<bucket>/<key of manifest.json or the report's folder>
    source_prefixes: tuple[str, ...] = ()
    shard: Shard | None = None

    def open(self, storage_for: Callable[[str], Storage], decls: Sequence[Declaration]) -> Scope:
        """The scope of a run over ``decls``: each report read and checked with the storage of the sets' regions;
        InventoryError for a report that cannot be used or lists a bucket no set reads."""
        for prefix in self.source_prefixes:
            if not prefix:
                raise UsageError("--source-prefix '': give a key prefix (without it, every source is planned)")
        inventories = Inventories()
        if self.inventory:
            buckets = {d.bucket for d in decls} | {d.output_bucket(o) for d in decls for p in d.pipelines
                                                   for o in p.outputs}
            inventories = Inventories.open(self.inventory, storage_for, [d.region for d in decls], buckets)
        return Scope(inventories, tuple(dict.fromkeys(self.source_prefixes)), self.shard)
