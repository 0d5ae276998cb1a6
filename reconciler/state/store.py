"""The ledger store: where each set's ledger, journal segments and lock live (COS, or a local ``--state-dir``).

Layout under the set's state location (COS ``state.bucket``/``state.prefix``, or ``DIR/``)::

    <set>/ledger.jsonl                     the compacted ledger (JSON Lines, whole-object writes)
    <set>/journal/<run-id>-<seq>.json      journal segments written while a run is applying
    <set>/lock.json                        the set's lock (created create-only; see ``locks``)

Every write is a whole object (``blobs``). The formats are ``ledger_file``'s (the ledger, JSON Lines) and
``ledger``'s (journal segments). This module reads, merges, settles and compacts; it must not plan or issue
image_process calls. The lock logic lives in ``locks``, the journal's buffering in ``journal``, the object stores in
``blobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.state import ledger as ledger_format
from reconciler.state import ledger_file
from reconciler.state import journal, locks
from reconciler.state.blobs import Blobs, CosBlobs, DirBlobs, dump_json, load_json
from reconciler.state.ledger import JournalRecord, Segment
from reconciler.state.locks import DEFAULT_LEASE, HeldLock, LockInfo
from reconciler.model import Declaration, Ledger, LedgerEntry
from reconciler.storage import Storage

LEDGER_NAME = "ledger.jsonl"
JOURNAL_DIR = "journal/"
OWNERS_DIR = "_owners/"  # owner indexes, beside the set folders (a set name never starts with "_"; plan.ownership)


@dataclass(frozen=True)
class Snapshot:
    """A set's ledger as read: the compacted ledger, the segments merged onto it, and their names."""

    ledger: Ledger  # with the segments merged
    compacted: Ledger
    segment_names: tuple[str, ...]


class LedgerStore:
    """Reads and writes ledgers, journal segments and locks, in COS or in ``state_dir``."""

    def __init__(self, storage_for: Callable[[str], Storage], state_dir: Path | None = None) -> None:
        self._storage_for = storage_for
        self.state_dir = state_dir

    def blobs(self, decl: Declaration) -> Blobs:
        """Where ``decl``'s state lives, rooted at its set folder."""
        if self.state_dir is not None:
            return DirBlobs(self.state_dir / decl.name)
        return CosBlobs(self._storage_for(decl.region), decl.state.bucket, f"{decl.state.prefix}{decl.name}/")

    def _owner_blobs(self, decl: Declaration) -> Blobs:
        """``decl``'s state location itself (where every set's folder is): the owner indexes live in ``_owners/``."""
        if self.state_dir is not None:
            return DirBlobs(self.state_dir)
        return CosBlobs(self._storage_for(decl.region), decl.state.bucket, decl.state.prefix)

    def owner_index_where(self, decl: Declaration, name: str | None = None) -> str:
        """Where the owner index of set ``name`` (default: ``decl``'s) at ``decl``'s state location is, for messages."""
        return f"{self._owner_blobs(decl).where}{OWNERS_DIR}{name or decl.name}.json"

    def read_owner_index(self, decl: Declaration, name: str | None = None) -> Any:
        """The owner index of set ``name`` (default: ``decl``'s) at ``decl``'s state location, as plain data; None
        when there is none. StateError when it is not JSON (what it says is ``plan.ownership``'s to check)."""
        file = f"{OWNERS_DIR}{name or decl.name}.json"
        blobs = self._owner_blobs(decl)
        raw = blobs.read(file)
        return None if raw is None else load_json(raw, blobs.where + file)

    def write_owner_index(self, decl: Declaration, data: Any) -> None:
        """Write ``decl``'s owner index (plain data) at its state location."""
        self._owner_blobs(decl).write(f"{OWNERS_DIR}{decl.name}.json", dump_json(data))

    def owner_index_names(self, decl: Declaration) -> list[str]:
        """The sets with an owner index at ``decl``'s state location, sorted."""
        listed = self._owner_blobs(decl).list(OWNERS_DIR)
        return sorted(n[len(OWNERS_DIR):-5] for n in listed if n.endswith(".json") and "/" not in n[len(OWNERS_DIR):])

    def read(self, decl: Declaration) -> Ledger:
        """The set's ledger with any leftover journal merged; an empty ledger when none was ever written."""
        return self.snapshot(decl).ledger

    def snapshot(self, decl: Declaration) -> Snapshot:
        blobs = self.blobs(decl)
        chunks = blobs.read_chunks(LEDGER_NAME)
        if chunks is None:
            compacted = Ledger(name=decl.name)
        else:  # read piece by piece, a line at a time: never held whole
            compacted = ledger_file.parse_ledger(chunks, f"{blobs.where}{LEDGER_NAME}")
        names = tuple(n for n in blobs.list(JOURNAL_DIR) if n.endswith(".json"))
        segments: list[Segment] = []
        for name in names:
            data = blobs.read(name)
            if data is not None:
                segments.append(journal.read_segment(decl, blobs.where, name, data))
        merged, pending = ledger_format.merge(compacted, segments)
        return Snapshot(self._settle(decl, merged, pending), compacted, names)

    def _settle(self, decl: Declaration, ledger: Ledger, pending: dict[tuple[str, str], LedgerEntry]) -> Ledger:
        """Intents a killed run left unsettled: an object now standing at a key the plan found empty is that
        run's output (HEAD shows its ETag); a key still empty was never made."""
        if not pending:
            return ledger
        storage = self._storage_for(decl.region)
        entries = dict(ledger.entries)
        for where, intent in sorted(pending.items()):
            if where in entries:
                continue
            found = storage.head_object(intent.bucket, intent.key)
            if found is not None:
                entries[where] = replace(intent, output_etag=found.etag)
        return replace(ledger, entries=entries)

    def write_segment(self, decl: Declaration, run_id: str, seq: int, base_generation: str,
                      records: Sequence[JournalRecord]) -> str:
        """Write one journal segment (a whole object); returns its name."""
        name = f"{JOURNAL_DIR}{run_id}-{seq:06d}.json"
        segment = Segment(name=decl.name, run_id=run_id, seq=seq, records=tuple(records),
                          base_generation=ledger_format.base_generation(base_generation))
        self.blobs(decl).write(name, dump_json(ledger_format.segment_to_data(segment)))
        return name

    def write_ledger(self, decl: Declaration, ledger: Ledger) -> None:
        self.blobs(decl).write(LEDGER_NAME, ledger_file.render_ledger(ledger))

    def compact(self, decl: Declaration, ledger: Ledger, declaration: Any, segment_names: Iterable[str]) -> Ledger:
        """Write ``ledger`` as the next generation with ``declaration``, then delete the merged segments."""
        new = ledger_format.compacted(ledger, declaration)
        self.write_ledger(decl, new)
        blobs = self.blobs(decl)
        for name in segment_names:
            blobs.delete(name)
        return new

    # --- locks (the logic is ``locks``') ------------------------------------------------------------

    def read_lock(self, decl: Declaration) -> LockInfo | None:
        """The set's lock as it stands; None when the set is not locked."""
        return locks.read_lock(self, decl)

    def acquire(self, decl: Declaration, *, timeout: float = 0, lease: float = DEFAULT_LEASE,
                operation: str = "apply", on_wait: Callable[[LockInfo], None] | None = None) -> HeldLock:
        """Take the set's lock, waiting up to ``timeout`` seconds; a provably dead or expired holder is taken over
        (``HeldLock.took_over`` names it). Raises ``LockError`` naming the holder when the wait runs out."""
        return locks.acquire(self, decl, timeout=timeout, lease=lease, operation=operation, on_wait=on_wait)

    def unlock(self, decl: Declaration, lock_id: str) -> LockInfo:
        """Break the set's lock by hand (as ``terraform force-unlock``): only the lock with this id."""
        return locks.unlock(self, decl, lock_id)
