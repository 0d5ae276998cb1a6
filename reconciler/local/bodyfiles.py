"""Body files of the local store: ``blobs/<aa>/<uuid>`` under the root, written to ``tmp/`` first, fsynced and
renamed into place, so a file under ``blobs/`` is always complete. A file is never named after its key, so
hostile keys (``../``, ``%2F``, very long) cannot reach outside the root. Leftovers in ``tmp/`` (an interrupted
write) are removed when the store opens. The SQLite index says which files are live; this module does not.
"""

from __future__ import annotations

import functools
import hashlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from reconciler.local.checksum import crc64
from reconciler.local.protocol import Readable


class BodyFiles:
    """The ``blobs/`` and ``tmp/`` folders under one root."""

    def __init__(self, root: Path) -> None:
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        for path in (self.blobs, self.tmp):
            path.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)

    def path(self, name: str) -> Path:
        return self.blobs / name[:2] / name

    def write(self, source: Readable | bytes | Iterable[bytes], *, durable: bool = True) -> tuple[str, int, str, int]:
        """Write a body file (temp + fsync + rename). Returns (name, size, md5 hex, CRC-64)."""
        name = uuid.uuid4().hex
        temp = self.tmp / name
        md5 = hashlib.md5()
        size = crc = 0
        chunks: Iterable[bytes]
        if isinstance(source, bytes):
            chunks = (source,)
        elif hasattr(source, "read"):
            chunks = iter(functools.partial(source.read, 1 << 20), b"")
        else:
            chunks = source
        try:
            with open(temp, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    md5.update(chunk)
                    crc = crc64(chunk, crc)
                    size += len(chunk)
                if durable:
                    out.flush()
                    os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        target = self.path(name)
        target.parent.mkdir(exist_ok=True)
        os.replace(temp, target)
        return name, size, md5.hexdigest(), crc

    def drop(self, name: str | None) -> None:
        if name:
            self.path(name).unlink(missing_ok=True)
