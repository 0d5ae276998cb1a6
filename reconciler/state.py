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
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reconciler import ledger as ledger_format
from reconciler.errors import StateError, StorageError
from reconciler.ledger import JournalRecord, Segment
from reconciler.model import Declaration, Ledger
from reconciler.storage import Storage

LEDGER_NAME = "ledger.json"
LOCK_NAME = "lock.json"
JOURNAL_DIR = "journal/"


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
        return Snapshot(ledger_format.merge(compacted, segments), compacted, names)

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
