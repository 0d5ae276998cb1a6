"""The journal of one run for one set: records buffered and written as numbered segments while apply runs.

The apply engine adds a record per output it makes or deletes; segments are durable before the run ends, so a
killed run loses nothing it did, and intents are written before their calls. ``LedgerStore`` names and writes the
segments; this module only decides when. It must not read or compact ledgers, nor swallow a final write failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from reconciler.errors import StateError, StorageError
from reconciler.state import ledger as ledger_format
from reconciler.state.blobs import dump_json, load_json
from reconciler.state.ledger import JournalRecord, Segment
from reconciler.model import Declaration



SET_ASIDE_DIR = "journal-set-aside/"


def read_segment(decl: Declaration, where: str, name: str, data: bytes) -> Segment:
    """One journal segment of ``decl``'s set; ``StateError`` naming the segment, what is wrong and the command that
    sets it aside, when it is not valid or belongs to another set."""
    try:
        segment = ledger_format.segment_from_data(load_json(data, where + name), where + name)
        if segment.name != decl.name:
            raise StateError(f"{where}{name}: the journal segment belongs to set {segment.name!r}, not {decl.name!r}")
    except StateError as error:
        raise StateError(f"{error.message}. Nothing was done. If no apply is running on this set, set the segment "
                         f"aside (what it recorded is then forgotten; `cosrecon adopt` records standing outputs "
                         f"again) with: cosrecon journal set-aside {name.removeprefix('journal/')} "
                         f"{decl.path or '<declaration>'}") from error
    return segment


class Blobs(Protocol):
    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes) -> None: ...

    def delete(self, name: str) -> None: ...


def set_aside(blobs: Blobs, segment: str) -> str:
    """Move one journal segment out of the journal (to ``journal-set-aside/``), so no run merges it; its new name."""
    name = f"journal/{segment}"
    data = blobs.read(name)
    if data is None:
        raise StateError(f"no journal segment {segment!r}")
    blobs.write(SET_ASIDE_DIR + segment, data)
    blobs.delete(name)
    return SET_ASIDE_DIR + segment


class SegmentWriter(Protocol):
    """What a journal needs of the ledger store: writing one numbered segment."""

    def write_segment(self, decl: Declaration, run_id: str, seq: int, base_generation: str,
                      records: Sequence[JournalRecord]) -> str: ...


class Journal:
    """Buffers one run's records for one set and writes them as numbered segments.

    ``add`` buffers; a background thread flushes when ``batch`` records wait or the oldest waited ``interval``
    seconds; ``write_now`` writes at once (intents must be durable before their call is issued). A failed flush
    keeps the records for the next attempt. ``names`` lists the segments written.
    """

    def __init__(self, store: SegmentWriter, decl: Declaration, run_id: str, base_generation: str, *,
                 interval: float = 1.0, batch: int = 100) -> None:
        self.store, self.decl, self.run_id, self.base = store, decl, run_id, base_generation
        self.interval, self.batch = interval, batch
        self.names: list[str] = []
        self.error: StorageError | None = None
        self._buffer: list[JournalRecord] = []
        self._oldest = 0.0
        self._seq = 0
        self._lock = threading.Lock()  # guards the buffer
        self._write_lock = threading.Lock()  # orders segment writes
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"journal-{decl.name}", daemon=True)
        self._thread.start()

    def add(self, records: Sequence[JournalRecord]) -> None:
        with self._lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.extend(records)
            full = len(self._buffer) >= self.batch
        if full:
            self._wake.set()

    def write_now(self, records: Sequence[JournalRecord]) -> None:
        """Write ``records`` (with anything buffered before them) as one segment before returning."""
        with self._write_lock:
            with self._lock:
                pending, self._buffer = self._buffer + list(records), []
            self._write(pending)

    def flush(self) -> None:
        with self._write_lock:
            with self._lock:
                pending, self._buffer = self._buffer, []
            if pending:
                self._write(pending)

    def _write(self, records: list[JournalRecord]) -> None:
        try:
            name = self.store.write_segment(self.decl, self.run_id, self._seq, self.base, records)
        except StorageError as error:
            self.error = error
            with self._lock:
                self._buffer = records + self._buffer
            raise
        self._seq += 1
        self.names.append(name)
        self.error = None

    def _due(self) -> bool:
        with self._lock:
            return bool(self._buffer) and (len(self._buffer) >= self.batch
                                           or time.monotonic() - self._oldest >= self.interval)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(min(0.2, self.interval / 2))
            self._wake.clear()
            if self._due():
                try:
                    self.flush()
                except StorageError:
                    time.sleep(0.2)  # kept in the buffer; retried on the next tick

    def unwritten(self) -> list[JournalRecord]:
        """The records not written yet (after a failed flush or close, the ones it could not write)."""
        with self._lock:
            return list(self._buffer)

    def keep_locally(self, folder: Path) -> Path | None:
        """Write the records not written yet to ``folder/<set>/<run id>.json`` (a segment, as the state location
        would have held it), for a person to read when the state location could not be reached; None if none."""
        records = self.unwritten()
        if not records:
            return None
        segment = Segment(name=self.decl.name, run_id=self.run_id, seq=self._seq, records=tuple(records),
                          base_generation=ledger_format.base_generation(self.base))
        path = folder / self.decl.name / f"{self.run_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dump_json(ledger_format.segment_to_data(segment)))
        return path

    def close(self) -> None:
        """Stop the background thread and write what is left (raises ``StorageError`` if it cannot)."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
