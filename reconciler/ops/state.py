"""``cosrecon state``'s operations: the ledgers read (``state list|show``), entries forgotten (``state rm``).

Forgetting: the outputs stay where they are, the ledger stops recording them.

Under the set's lock: read the ledger (journal merged), drop the chosen entries, write the next generation with the
same last applied declaration, and delete the merged journal segments. Nothing in the buckets is touched; a
forgotten output is an unmanaged object to the next plan (a conflict if still declared: ``adopt`` takes it back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from reconciler.apply.contract import ApplyOptions, BackendLike
from reconciler.apply.locking import lock_sets
from reconciler.model import Declaration, Ledger, LedgerEntry
from reconciler.ops.compose import Connection, connect

Choose = Callable[[str, LedgerEntry], bool]  # (set name, entry) -> forget it?
Confirm = Callable[[Sequence[tuple[str, LedgerEntry]]], None]  # raise Aborted to stop before anything is written


def forget_entries(decls: Sequence[Declaration], backend: BackendLike, choose: Choose, confirm: Confirm,
                   options: ApplyOptions = ApplyOptions()) -> list[tuple[str, LedgerEntry]]:
    """Forget the entries ``choose`` picks in the sets' ledgers (after ``confirm`` saw them); returns them."""
    with lock_sets(decls, backend, options, operation="state rm"):
        snapshots = {d.name: backend.ledgers.snapshot(d) for d in decls}
        chosen = [(name, e) for name, snap in snapshots.items() for e in snap.ledger.entries.values()
                  if choose(name, e)]
        if not chosen:
            return []
        confirm(chosen)
        for decl in decls:
            snap = snapshots[decl.name]
            gone = {(e.bucket, e.key) for name, e in chosen if name == decl.name}
            if not gone:
                continue
            kept = {where: e for where, e in snap.ledger.entries.items() if where not in gone}
            backend.ledgers.compact(decl, replace(snap.ledger, entries=kept), snap.ledger.declaration,
                                    snap.segment_names)
        return chosen


def read_ledgers(decls: Sequence[Declaration], connection: Connection) -> dict[str, tuple[Declaration, Ledger]]:
    """Each set's ledger as it stands (journal merged), by set name."""
    with connect(connection, decls) as backend:
        return {d.name: (d, backend.ledgers.read(d)) for d in decls}


def forget(decls: Sequence[Declaration], connection: Connection, choose: Choose, confirm: Confirm,
           options: ApplyOptions = ApplyOptions()) -> list[tuple[str, LedgerEntry]]:
    """``forget_entries`` on the backend ``connection`` names."""
    with connect(connection, decls) as backend:
        return forget_entries(decls, backend, choose, confirm, options)
