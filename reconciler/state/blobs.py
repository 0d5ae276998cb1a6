"""Whole-object stores for cosrecon's state: a prefix of a COS bucket (``CosBlobs``) or a local folder (``DirBlobs``).

``state`` (ledgers, journal segments) and ``locks`` keep their objects here. This module only moves bytes and
encodes JSON: it must not know the ledger, journal or lock formats, retry, or decide what a missing object means.
Every write is a whole object: a PUT in COS, temp file + fsync + rename locally; ``create`` is create-only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

from reconciler.errors import StateError, StorageError
from reconciler.model import Declaration
from reconciler.storage import Storage

CHUNK = 1 << 20  # bytes per piece of ``read_chunks``


class Blobs(Protocol):
    """A tiny whole-object store: the part of COS (or a folder) the state needs."""

    where: str

    def read(self, name: str) -> bytes | None: ...

    def read_chunks(self, name: str) -> Iterator[bytes] | None:
        """The object's bytes a piece at a time (a local file is never held whole); None when absent."""
        ...

    def write(self, name: str, data: bytes) -> None: ...

    def create(self, name: str, data: bytes) -> bool:
        """Write only if absent; False when the name exists already (atomic)."""
        ...

    def delete(self, name: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


class SetBlobs(Protocol):
    """Where a set's state objects live: what locks need of the ledger store."""

    def blobs(self, decl: Declaration) -> Blobs: ...


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

    def read_chunks(self, name: str) -> Iterator[bytes] | None:
        data = self.read(name)  # the SDK's GET gives the whole body
        return None if data is None else iter((data,))

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
        self.where = f"{root}/"  # names are appended: <root>/ledger.jsonl

    def _path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return None

    def read_chunks(self, name: str) -> Iterator[bytes] | None:
        try:
            handle = self._path(name).open("rb")
        except FileNotFoundError:
            return None
        return _chunks(handle)

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


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def dump_json(data: Any) -> bytes:
    """``data`` as the UTF-8 JSON every state object is written as."""
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")


def load_json(raw: bytes, where: str) -> Any:
    """A state object's JSON; ``StateError`` naming ``where`` when it is not valid."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateError(f"{where}: not valid JSON ({error})") from None
