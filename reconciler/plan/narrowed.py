"""Plans for ``--target`` and ``--replace``: ``plan_declarations`` on the targeted sets, through ``targets``.

Only the targeted sets are observed; ``--replace`` reads each set's ledger as the planner would and hands the
planner a copy with the chosen outputs' ETags forgotten (``targets.mark_for_replacement``), so it plans to remake
them. Never writes, takes no lock: the ledgers in the store stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.errors import UsageError
from reconciler.model import Declaration, Ledger, Plan
from reconciler.observe.listing import Progress
from reconciler.plan.observed import LedgerReader, PlanBackend, plan_declarations
from reconciler.plan.scope import Scope
from reconciler.plan.targets import (Address, Replacement, label_replacements, mark_for_replacement, select_targets,
                                     sets_of, unmatched_replacements)
from reconciler.storage import Storage


@dataclass
class _MarkingReader:
    inner: LedgerReader
    replacements: Sequence[Replacement]
    read: dict[str, Ledger] = field(default_factory=dict)  # set -> the ledger as recorded

    def read_ledger(self, decl: Declaration) -> Ledger:
        ledger = self.read[decl.name] = self.inner.read(decl)
        return mark_for_replacement(ledger, decl.name, self.replacements)


class _Ledgers:
    def __init__(self, reader: _MarkingReader) -> None:
        self._reader = reader

    def read(self, decl: Declaration) -> Ledger:
        return self._reader.read_ledger(decl)


class _Backend:
    def __init__(self, backend: PlanBackend, reader: _MarkingReader) -> None:
        self._backend = backend
        self._ledgers = _Ledgers(reader)

    @property
    def ledgers(self) -> LedgerReader:
        return self._ledgers

    def storage(self, region: str) -> Storage:
        return self._backend.storage(region)


def targeted_declarations(decls: Sequence[Declaration], targets: Sequence[Address]) -> list[Declaration]:
    """The sets the targets name (all of them without targets)."""
    wanted = sets_of(targets)
    return [d for d in decls if not targets or d.name in wanted]


def plan_narrowed(decls: Sequence[Declaration], backend: PlanBackend, *, targets: Sequence[Address] = (),
                  replacements: Sequence[Replacement] = (), prune: bool = False, replace_unmanaged: bool = False,
                  progress: Progress | None = None, scope: Scope | None = None) -> Plan:
    """The plan of ``decls`` narrowed to ``targets``, with ``replacements`` remade, read and cut as ``scope`` says
    (``plan.scope``). UsageError when a replacement names no recorded output of the sets planned."""
    decls = targeted_declarations(decls, targets)
    if not replacements:
        plan = plan_declarations(decls, backend, prune=prune, replace_unmanaged=replace_unmanaged, progress=progress,
                                 scope=scope)
        return select_targets(plan, targets)
    reader = _MarkingReader(backend.ledgers, replacements)
    plan = plan_declarations(decls, _Backend(backend, reader), prune=prune, replace_unmanaged=replace_unmanaged,
                             progress=progress, scope=scope)
    missing = unmatched_replacements(reader.read, replacements)
    if missing:
        raise UsageError("--replace " + ", ".join(repr(r.text) for r in missing)
                         + ": no output the ledger records matches (only outputs cosrecon made can be remade)")
    return select_targets(label_replacements(plan, reader.read, replacements), targets)
