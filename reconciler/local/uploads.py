"""Incomplete multipart uploads in the local store: their own SQLite tables next to ``objects``, part bodies
as blob files. Nothing here is visible to object reads or listings until ``complete`` commits the object row
(concatenated parts, written and fsynced like any large body); ``abort`` leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from reconciler.local.protocol import Readable
from reconciler.local.store import CRC_HEADER, LocalStore, StoredObject

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, created REAL NOT NULL,
    ctype TEXT NOT NULL, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, number INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    crc TEXT NOT NULL, mtime REAL NOT NULL, blob TEXT NOT NULL, PRIMARY KEY (upload_id, number)) WITHOUT ROWID;
"""


class NoSuchUpload(Exception):
    """The upload id is unknown (never initiated, completed or aborted)."""


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    created: float
    content_type: str = "application/octet-stream"
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str
    crc: str
    mtime: float
    blob: str


class Uploads:
    """Multipart uploads over one ``LocalStore`` (same database, same write lock)."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        store.connection().executescript(_SCHEMA)

    def initiate(self, bucket: str, key: str, content_type: str, meta: dict[str, str]) -> Upload:
        upload = Upload(f"{int(time.time())}{uuid.uuid4().hex}", bucket, key, time.time(), content_type, meta)
        with self.store.write_lock:
            self.store.connection().execute("INSERT INTO uploads VALUES (?,?,?,?,?,?)", (
                upload.upload_id, bucket, key.encode("utf-8"), upload.created, content_type, json.dumps(meta)))
        return upload

    def get(self, bucket: str, key: str, upload_id: str) -> Upload:
        row = self.store.connection().execute(
            "SELECT created, ctype, meta FROM uploads WHERE upload_id=? AND bucket=? AND key=?",
            (upload_id, bucket, key.encode("utf-8"))).fetchone()
        if row is None:
            raise NoSuchUpload(upload_id)
        return Upload(upload_id, bucket, key, float(row[0]), str(row[1]), json.loads(str(row[2])))

    def put_part(self, upload: Upload, number: int, body: Readable | bytes, expected_md5: str | None) -> Part:
        """Store one part (replacing an earlier one of that number). ValueError on an MD5 mismatch."""
        blob, size, digest, crc = self.store.files.write(body)
        if expected_md5 is not None and expected_md5 != digest:
            self.store.files.drop(blob)
            raise ValueError("Content-MD5 does not match the body")
        part = Part(number, size, f'"{digest}"', str(crc), time.time(), blob)
        with self.store.write_lock:
            conn = self.store.connection()
            if conn.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload.upload_id,)).fetchone() is None:
                self.store.files.drop(blob)
                raise NoSuchUpload(upload.upload_id)  # aborted or completed meanwhile
            old = conn.execute("SELECT blob FROM parts WHERE upload_id=? AND number=?",
                               (upload.upload_id, number)).fetchone()
            conn.execute("INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?,?,?)",
                         (upload.upload_id, number, size, part.etag, part.crc, part.mtime, blob))
        if old is not None:
            self.store.files.drop(old[0])
        return part

    def parts(self, upload_id: str, after: int = 0, limit: int = 10_000) -> list[Part]:
        rows = self.store.connection().execute(
            "SELECT number, size, etag, crc, mtime, blob FROM parts WHERE upload_id=? AND number>? "
            "ORDER BY number LIMIT ?", (upload_id, after, limit)).fetchall()
        return [Part(int(r[0]), int(r[1]), str(r[2]), str(r[3]), float(r[4]), str(r[5])) for r in rows]

    def list(self, bucket: str, prefix: str, key_marker: str, upload_id_marker: str) -> Iterator[Upload]:
        """Uploads of a bucket in (key, upload id) order, after the markers."""
        rows = self.store.connection().execute(
            "SELECT upload_id, key, created, ctype, meta FROM uploads WHERE bucket=? AND (key>? OR (key=? AND "
            "upload_id>?)) ORDER BY key, upload_id", (bucket, key_marker.encode("utf-8"), key_marker.encode("utf-8"),
                                                     upload_id_marker))
        for row in rows:
            key = bytes(row[1]).decode("utf-8")
            if key.startswith(prefix):
                yield Upload(str(row[0]), bucket, key, float(row[2]), str(row[3]), json.loads(str(row[4])))

    def complete(self, upload: Upload, chosen: Sequence[Part], *, forbid_overwrite: bool = False) -> StoredObject:
        """Concatenate ``chosen`` parts into the object (durably), then, in the same transaction as the object's
        row, drop the upload and its parts: a crash leaves either the upload or the object, never both.
        Raises ObjectExists (the upload stays) when ``forbid_overwrite`` finds the key taken."""
        md5s = b"".join(bytes.fromhex(p.etag.strip('"')) for p in chosen)
        etag = f'"{hashlib.md5(md5s).hexdigest()}-{len(chosen)}"'
        blob, size, _, crc = self.store.files.write(self._chunks(chosen))
        row = StoredObject(upload.key, size, etag, time.time(), upload.content_type,
                           {**upload.meta, CRC_HEADER: str(crc)}, blob)
        part_blobs: list[str] = []

        def drop_upload(conn: sqlite3.Connection) -> None:
            part_blobs.extend(r[0] for r in conn.execute("SELECT blob FROM parts WHERE upload_id=?",
                                                         (upload.upload_id,)))
            conn.execute("DELETE FROM parts WHERE upload_id=?", (upload.upload_id,))
            if not conn.execute("DELETE FROM uploads WHERE upload_id=?", (upload.upload_id,)).rowcount:
                raise NoSuchUpload(upload.upload_id)  # completed or aborted meanwhile

        try:
            self.store.commit(upload.bucket, row, None, forbid_overwrite, also=drop_upload)
        except BaseException:
            self.store.files.drop(blob)
            raise
        for part_blob in part_blobs:
            self.store.files.drop(part_blob)
        return row

    def _chunks(self, chosen: Sequence[Part]) -> Iterator[bytes]:
        for part in chosen:
            with open(self.store.files.path(part.blob), "rb") as body:
                while chunk := body.read(1 << 20):
                    yield chunk

    def abort(self, upload: Upload) -> None:
        with self.store.write_lock:
            conn = self.store.connection()
            blobs = [r[0] for r in conn.execute("SELECT blob FROM parts WHERE upload_id=?", (upload.upload_id,))]
            conn.execute("DELETE FROM parts WHERE upload_id=?", (upload.upload_id,))
            deleted = conn.execute("DELETE FROM uploads WHERE upload_id=?", (upload.upload_id,)).rowcount
        for blob in blobs:
            self.store.files.drop(blob)
        if not deleted:
            raise NoSuchUpload(upload.upload_id)
