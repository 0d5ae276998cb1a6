"""The ledger store: where each set's ledger, journal segments and lock live (COS, or a local ``--state-dir``).

Layout under the set's state location (COS ``state.bucket``/``state.prefix``, or ``DIR/``)::

    <set>/ledger.json                      the compacted ledger (whole-object writes)
    <set>/journal/<run-id>-<seq>.json      journal segments written while a run is applying
    <set>/lock.json                        the set's lock (created create-only)

Every write is a whole object: a PUT in COS, temp file + fsync + rename locally. The format is ``ledger``'s.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from reconciler import ledger as ledger_format
from reconciler.errors import LockError, StateError, StorageError
from reconciler.ledger import JournalRecord, Segment
from reconciler.model import Declaration, Ledger, LedgerEntry
from reconciler.storage import Storage

LEDGER_NAME = "ledger.json"
LOCK_NAME = "lock.json"
JOURNAL_DIR = "journal/"
DEFAULT_LEASE = 60.0  # seconds a lock stays valid without a refresh


class Blobs(Protocol):
    """A tiny whole-object store: the part of COS (or a folder) the state needs."""

    where: str

    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes) -> None: ...

    def create(self, name: str, data: bytes) -> bool:
        """Write only if absent; False when the name exists already (atomic)."""
        ...

    def delete(self, name: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


class CosBlobs:
    """Blobs under ``prefix`` of a COS bucket."""

    def __init__(self, storage: Storage, bucket: str, prefix: str) -> None:
        self.storage, self.bucket, self.prefix = storage, bucket, prefix
        self.where = f"cos://{bucket}/{prefix}"

    def read(self, name: str) -> bytes | None:
        try:
            return self.storage.get_object(self.bucket, self.prefix + name)
        except StorageError as error:
            if error.status == 404 or type(error).__name__ == "NotFound":
                return None
            raise

    def write(self, name: str, data: bytes) -> None:
        self.storage.put_object(self.bucket, self.prefix + name, data, content_type="application/json")

    def create(self, name: str, data: bytes) -> bool:
        try:
            self.storage.put_object(self.bucket, self.prefix + name, data, forbid_overwrite=True,
                                    content_type="application/json")
        except StorageError as error:
            if error.status == 409 or error.code == "FileAlreadyExists":
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        self.storage.delete_object(self.bucket, self.prefix + name)

    def list(self, prefix: str) -> list[str]:
        start = len(self.prefix)
        return [o.key[start:] for o in self.storage.list_objects(self.bucket, self.prefix + prefix)]


class DirBlobs:
    """Blobs in a local folder: temp + fsync + rename for writes, hard link for create-only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def _path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return None

    def _temp(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return temp

    def write(self, name: str, data: bytes) -> None:
        path = self._path(name)
        os.replace(self._temp(path, data), path)

    def create(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        temp = self._temp(path, data)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        return True

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            pass

    def list(self, prefix: str) -> list[str]:
        folder = self._path(prefix).parent if not prefix.endswith("/") else self._path(prefix)
        if not folder.is_dir():
            return []
        names = [p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file()]
        return sorted(n for n in names if n.startswith(prefix) and not Path(n).name.startswith(".tmp-"))


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")


def _load(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateError(f"{where}: not valid JSON ({error})") from None


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

    def read(self, decl: Declaration) -> Ledger:
        """The set's ledger with any leftover journal merged; an empty ledger when none was ever written."""
        return self.snapshot(decl).ledger

    def snapshot(self, decl: Declaration) -> Snapshot:
        blobs = self.blobs(decl)
        raw = blobs.read(LEDGER_NAME)
        if raw is None:
            compacted = Ledger(name=decl.name)
        else:
            compacted = ledger_format.ledger_from_data(_load(raw, f"{blobs.where}{LEDGER_NAME}"),
                                                       f"{blobs.where}{LEDGER_NAME}")
        names = tuple(n for n in blobs.list(JOURNAL_DIR) if n.endswith(".json"))
        segments: list[Segment] = []
        for name in names:
            data = blobs.read(name)
            if data is not None:
                segments.append(ledger_format.segment_from_data(_load(data, blobs.where + name), blobs.where + name))
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
        self.blobs(decl).write(name, _dump(ledger_format.segment_to_data(segment)))
        return name

    def write_ledger(self, decl: Declaration, ledger: Ledger) -> None:
        self.blobs(decl).write(LEDGER_NAME, _dump(ledger_format.ledger_to_data(ledger)))

    def compact(self, decl: Declaration, ledger: Ledger, declaration: Any, segment_names: Iterable[str]) -> Ledger:
        """Write ``ledger`` as the next generation with ``declaration``, then delete the merged segments."""
        new = ledger_format.compacted(ledger, declaration)
        self.write_ledger(decl, new)
        blobs = self.blobs(decl)
        for name in segment_names:
            blobs.delete(name)
        return new

    # --- locks ---------------------------------------------------------------------------------------

    def read_lock(self, decl: Declaration) -> LockInfo | None:
        blobs = self.blobs(decl)
        raw = blobs.read(LOCK_NAME)
        return None if raw is None else LockInfo.from_data(_load(raw, blobs.where + LOCK_NAME))

    def acquire(self, decl: Declaration, *, timeout: float = 0, lease: float = DEFAULT_LEASE,
                operation: str = "apply", on_wait: Callable[[LockInfo], None] | None = None) -> HeldLock:
        """Take the set's lock, waiting up to ``timeout`` seconds; a provably dead or expired holder is taken over
        (``HeldLock.took_over`` names it). Raises ``LockError`` naming the holder when the wait runs out."""
        blobs = self.blobs(decl)
        deadline = time.monotonic() + timeout
        took_over: LockInfo | None = None
        waited = False
        while True:
            mine = LockInfo.new(decl.name, operation, lease)
            if blobs.create(LOCK_NAME, _dump(mine.to_data())):
                return HeldLock(self, decl, mine, lease, took_over)
            holder = self.read_lock(decl)
            if holder is None:
                time.sleep(0.05)
                continue  # released between our create and our read
            if holder.is_stale():
                again = self.read_lock(decl)
                if again is not None and again.id == holder.id:
                    blobs.delete(LOCK_NAME)
                    took_over = holder
                continue
            if time.monotonic() >= deadline:
                raise LockError(
                    f"set {decl.name!r} is locked by {holder.describe()}; waited {timeout:g}s. "
                    f"If that process is gone, run: cosrecon unlock {holder.id} {decl.path or '<declaration>'}")
            if on_wait is not None and not waited:
                on_wait(holder)
            waited = True
            time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))

    def unlock(self, decl: Declaration, lock_id: str) -> LockInfo:
        """Break the set's lock by hand (as ``terraform force-unlock``): only the lock with this id."""
        holder = self.read_lock(decl)
        if holder is None:
            raise LockError(f"set {decl.name!r} is not locked")
        if holder.id != lock_id:
            raise LockError(f"set {decl.name!r} is locked by {holder.describe()}, not by {lock_id}")
        self.blobs(decl).delete(LOCK_NAME)
        return holder



def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class LockInfo:
    """The content of a lock object: who holds the set, since when, until when (lease, epoch seconds)."""

    id: str
    set: str
    host: str
    pid: int
    operation: str
    started: str
    expires: float

    @staticmethod
    def new(set_name: str, operation: str, lease: float) -> LockInfo:
        now = time.time()
        return LockInfo(uuid.uuid4().hex[:16], set_name, socket.gethostname(), os.getpid(), operation,
                        datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), now + lease)

    def to_data(self) -> dict[str, Any]:
        return {"format_version": 1, "kind": "lock", "id": self.id, "set": self.set, "host": self.host,
                "pid": self.pid, "operation": self.operation, "started": self.started, "expires": self.expires}

    @staticmethod
    def from_data(data: Any) -> LockInfo:
        if not isinstance(data, dict) or data.get("kind") != "lock":
            raise StateError("lock object is not a cosrecon lock")
        return LockInfo(str(data.get("id", "")), str(data.get("set", "")), str(data.get("host", "")),
                        int(data.get("pid", 0)), str(data.get("operation", "")), str(data.get("started", "")),
                        float(data.get("expires", 0)))

    def is_stale(self) -> bool:
        """Expired lease, or a holder on this host whose process is gone."""
        if time.time() > self.expires:
            return True
        return self.host == socket.gethostname() and not _pid_alive(self.pid)

    def describe(self) -> str:
        return f"lock {self.id} ({self.operation} by pid {self.pid} on {self.host}, since {self.started})"


class HeldLock:
    """A lock this process holds; ``refresh`` extends the lease (a background thread does it while running)."""

    def __init__(self, store: LedgerStore, decl: Declaration, info: LockInfo, lease: float,
                 took_over: LockInfo | None) -> None:
        self.store, self.decl, self.info, self.lease, self.took_over = store, decl, info, lease, took_over
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        current = self.store.read_lock(self.decl)
        if current is None or current.id != self.info.id:
            self.lost = True
            return
        self.info = replace(self.info, expires=time.time() + self.lease)
        self.store.blobs(self.decl).write(LOCK_NAME, _dump(self.info.to_data()))

    def _run(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.refresh()
            except StorageError:
                pass  # the next refresh retries; the lease is three refresh periods long

    def __enter__(self) -> HeldLock:
        self._thread = threading.Thread(target=self._run, name=f"lock-{self.decl.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        current = self.store.read_lock(self.decl)
        if current is not None and current.id == self.info.id:
            self.store.blobs(self.decl).delete(LOCK_NAME)


class Journal:
    """Buffers one run's records for one set and writes them as numbered segments.

    ``add`` buffers; a background thread flushes when ``batch`` records wait or the oldest waited ``interval``
    seconds; ``write_now`` writes at once (intents must be durable before their call is issued). A failed flush
    keeps the records for the next attempt. ``names`` lists the segments written.
    """

    def __init__(self, store: LedgerStore, decl: Declaration, run_id: str, base_generation: str, *,
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

    def close(self) -> None:
        """Stop the background thread and write what is left (raises ``StorageError`` if it cannot)."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
