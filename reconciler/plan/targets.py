"""Narrowing plans to chosen outputs (PURE): ``--target ADDRESS`` and ``--replace ADDRESS_OR_KEY``.

An address names a set (``shop``), a pipeline of it (``shop.products``) or one output (``shop.products.thumb``).
``select_targets`` keeps only the targeted outputs' calls and actions (and drops the sets not targeted), so an
apply of the result touches nothing else: other outputs are neither made nor deleted, their ledger entries stay
as they are. ``mark_for_replacement`` makes chosen recorded outputs look changed to the planner (their recorded
ETag forgotten), so it plans to remake them although nothing changed; ``label_replacements`` then says why
(``replace-requested``). A replacement may also be named by output key (``bucket/key`` or ``key``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.errors import UsageError
from reconciler.model import (ActionKind, Call, Declaration, Ledger, LedgerEntry, Plan, PlanActions, Reason, SetPlan,
                              Target)

FORGOTTEN_ETAG = ""  # no listing ever shows it: the planner sees the output as changed


@dataclass(frozen=True)
class Address:
    """``set``, ``set.pipeline`` or ``set.pipeline.output``; the parts not given match everything."""

    set: str
    pipeline: str | None = None
    output: str | None = None

    def __str__(self) -> str:
        return ".".join(p for p in (self.set, self.pipeline, self.output) if p is not None)

    def covers(self, set_name: str, address: str) -> bool:
        """Whether the output ``address`` (``pipeline.output``) of set ``set_name`` is targeted."""
        if set_name != self.set:
            return False
        pipeline, _, output = address.partition(".")
        return self.pipeline in (None, pipeline) and self.output in (None, output)


def declared_addresses(decls: Iterable[Declaration]) -> list[str]:
    """Every address the declarations declare: sets, ``set.pipeline`` and ``set.pipeline.output``."""
    found = []
    for d in decls:
        found.append(d.name)
        for p in d.pipelines:
            found.append(f"{d.name}.{p.name}")
            found.extend(f"{d.name}.{p.name}.{o.name}" for o in p.outputs)
    return found


def parse_address(text: str, decls: Sequence[Declaration], *, option: str = "--target") -> Address:
    """The address ``text`` names; UsageError (listing what is declared) when its set is not declared. A pipeline
    or output no longer declared may still be named (its recorded outputs: orphans); ``select_targets`` refuses
    an address that matches nothing declared or recorded."""
    parts = text.strip().split(".")
    known = declared_addresses(decls)
    if parts[0] not in {d.name for d in decls} or len(parts) > 3 or not all(parts):
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise UsageError(f"{option} {text!r}: no such set, pipeline or output is declared (declared: {shown})")
    return Address(parts[0], *(parts[1:] + [None, None])[:2])


def sets_of(targets: Iterable[Address]) -> set[str]:
    return {t.set for t in targets}


def _covered(targets: Sequence[Address], set_name: str, address: str) -> bool:
    return any(t.covers(set_name, address) for t in targets)


def _rebuilt(call: Call, pairs: Sequence[tuple[Target, str]]) -> Call:
    """``call`` with these (target, output key) rules (the one place that makes a ``Call`` here)."""
    return Call(call.bucket, call.key, call.source_etag, tuple(t for t, _ in pairs), tuple(k for _, k in pairs))


def _narrow_call(call: Call, keep: Mapping[str, bool]) -> Call | None:
    pairs = [(target, key) for target, key in call.pairs() if keep[target.address]]
    if len(pairs) == call.size:
        return call
    return _rebuilt(call, pairs) if pairs else None


def _addresses(s: SetPlan) -> set[str]:
    return ({t.address for c in s.calls for t, _ in c.pairs()} | set(s.unchanged)
            | {a.address for a in s.actions if a.action not in _CALL_KINDS})


def _narrow_set(s: SetPlan, targets: Sequence[Address]) -> SetPlan:
    keep = {a: _covered(targets, s.name, a) for a in _addresses(s)}
    kept = [(narrowed, size) for call, size in s.sized_calls() if (narrowed := _narrow_call(call, keep)) is not None]
    calls = tuple(c for c, _ in kept)
    sizes = None if s.source_sizes is None else [-1 if size is None else size for _, size in kept]
    others = [a for a in s.actions if a.action not in _CALL_KINDS and keep[a.address]]
    return replace(s, actions=PlanActions(calls, others), calls=calls, source_sizes=sizes,
                   unchanged={a: n for a, n in s.unchanged.items() if keep[a]},
                   rule_changes={a: c for a, c in s.rule_changes.items() if keep.get(a)})


_CALL_KINDS = (ActionKind.CREATE, ActionKind.REPLACE)


def select_targets(plan: Plan, targets: Sequence[Address]) -> Plan:
    """Only the targeted outputs of ``plan``: their calls (rules of other outputs taken out), conflicts, orphans
    and deletes; sets not targeted are left out. No targets: the plan as it is. UsageError for a target that
    matches no output declared or recorded."""
    if not targets:
        return plan
    wanted = sets_of(targets)
    sets = tuple(_narrow_set(s, targets) for s in plan.sets if s.name in wanted)
    for t in targets:
        if not any(t.covers(s.name, a) for s in sets for a in _addresses(s)):
            raise UsageError(f"--target {str(t)!r}: no output of set {t.set!r} is declared or recorded at that address")
    return Plan(sets)


@dataclass(frozen=True)
class Replacement:
    """What ``--replace`` names: an address, or an output key (``bucket/key`` or a key of any bucket)."""

    text: str
    address: Address | None = None
    bucket: str | None = None
    key: str | None = None

    def covers(self, set_name: str, entry: LedgerEntry) -> bool:
        if self.address is not None:
            return self.address.covers(set_name, entry.address)
        return entry.key == self.key and self.bucket in (None, entry.bucket)


def parse_replacement(text: str, decls: Sequence[Declaration]) -> Replacement:
    """An address when ``text`` is one that is declared, else an output key (``bucket/key`` when its first
    segment is a declared bucket)."""
    if text.strip() in declared_addresses(decls):
        return Replacement(text, address=parse_address(text, decls, option="--replace"))
    buckets = {d.output_bucket(o) for d in decls for p in d.pipelines for o in p.outputs}
    first, _, rest = text.partition("/")
    if rest and first in buckets:
        return Replacement(text, bucket=first, key=rest)
    return Replacement(text, key=text)


def mark_for_replacement(ledger: Ledger, set_name: str, replacements: Sequence[Replacement]) -> Ledger:
    """``ledger`` with the recorded output ETag of every chosen entry forgotten: planned as changed, remade."""
    if not replacements:
        return ledger
    entries = dict(ledger.entries.items())
    for where, entry in entries.items():
        if any(r.covers(set_name, entry) for r in replacements):
            entries[where] = replace(entry, output_etag=FORGOTTEN_ETAG)
    return replace(ledger, entries=entries)


def label_replacements(plan: Plan, ledgers: Mapping[str, Ledger], replacements: Sequence[Replacement]) -> Plan:
    """Say ``replace-requested`` on the replacements that ``mark_for_replacement`` caused (the output-changed ones
    among the chosen entries); every other action as it is."""
    if not replacements:
        return plan
    sets = []
    for s in plan.sets:
        ledger = ledgers.get(s.name)
        chosen = {where for where, e in ledger.entries.items()
                  if any(r.covers(s.name, e) for r in replacements)} if ledger is not None else set()
        calls = tuple(_relabel(c, chosen) for c in s.calls)
        others = [a for a in s.actions if a.action not in _CALL_KINDS]
        sets.append(replace(s, actions=PlanActions(calls, others), calls=calls))
    return Plan(tuple(sets))


def _relabel(call: Call, chosen: set[tuple[str, str]]) -> Call:
    pairs = []
    changed = False
    for target, key in call.pairs():
        if target.reason is Reason.OUTPUT_CHANGED and (target.bucket, key) in chosen:
            target = replace(target, reason=Reason.REPLACE_REQUESTED, detail="--replace")
            changed = True
        pairs.append((target, key))
    return _rebuilt(call, pairs) if changed else call


def unmatched_replacements(ledgers: Mapping[str, Ledger], replacements: Sequence[Replacement]) -> list[Replacement]:
    """The replacements that name no recorded output (nothing would be remade for them)."""
    return [r for r in replacements
            if not any(r.covers(name, e) for name, ledger in ledgers.items() for e in ledger.entries.values())]
