"""The local server's durable object store: a SQLite index (WAL) plus body files under one root.

Layout under ``root``: ``index.sqlite3`` holds buckets, the sorted key index and metadata; bodies up to
``INLINE_LIMIT`` bytes live in the index itself (one transaction, so a write is atomic); larger bodies are files
``blobs/<aa>/<uuid>`` written to ``tmp/`` first, fsynced and renamed BEFORE the index row commits. A body file
is never named after its key, so hostile keys (``../``, ``%2F``, very long) cannot reach outside ``root``.

Keys are stored as UTF-8 BLOBs: SQLite compares BLOBs with memcmp, so index order is COS's byte-wise order and
a 1000-key page is one indexed range query. After a crash the index only ever points at complete bodies; an
interrupted write leaves at most an orphan file, removed at the next start.

Body files are kept by ``bodyfiles.BodyFiles``. This module does no HTTP; ``LocalStore.put_many`` seeds
10^5..10^6 keys in one transaction for tests.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.local.bodyfiles import BodyFiles
from reconciler.local.checksum import crc64
from reconciler.local.listing import (BucketMissing, BucketNotEmpty, ListPage, ObjectExists, StoredObject,
                                     list_page)
from reconciler.local.protocol import Readable

__all__ = ["CRC_HEADER", "INLINE_LIMIT", "BucketMissing", "BucketNotEmpty", "ListPage", "LocalStore", "ObjectExists",
           "StoredObject"]

INLINE_LIMIT = 64 * 1024
CRC_HEADER = "x-cos-hash-crc64ecma"  # kept in an object's meta, returned with its other headers
_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key BLOB NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    mtime REAL NOT NULL, ctype TEXT NOT NULL, meta TEXT NOT NULL, blob TEXT, body BLOB,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
"""


class LocalStore:
    """Thread-safe store; one SQLite connection per thread, writes serialised by one lock."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.files = BodyFiles(self.root)
        self._local = threading.local()
        self.write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self.connection().executescript(_SCHEMA)

    # -- plumbing ---------------------------------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.root / "index.sqlite3", timeout=60, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def close_thread(self) -> None:
        """Close the calling thread's connection (a server thread ending its HTTP connection calls this)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._connections_lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            conn.close()

    def close(self) -> None:
        """Close every thread's connection (call when no request is in flight)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # -- buckets ----------------------------------------------------------------------------------------------
    def create_bucket(self, name: str) -> bool:
        """Create a bucket; False when it already existed."""
        with self.write_lock:
            cur = self.connection().execute("INSERT OR IGNORE INTO buckets VALUES (?, ?)", (name, time.time()))
            return cur.rowcount == 1

    def bucket_exists(self, name: str) -> bool:
        return self.connection().execute("SELECT 1 FROM buckets WHERE name=?", (name,)).fetchone() is not None

    def list_buckets(self) -> list[tuple[str, float]]:
        return [(r[0], r[1]) for r in self.connection().execute("SELECT name, created FROM buckets ORDER BY name")]

    def delete_bucket(self, name: str) -> None:
        with self.write_lock:
            conn = self.connection()
            if not self.bucket_exists(name):
                raise BucketMissing(name)
            if conn.execute("SELECT 1 FROM objects WHERE bucket=? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty(name)
            conn.execute("DELETE FROM buckets WHERE name=?", (name,))

    # -- objects ----------------------------------------------------------------------------------------------
    def put(self, bucket: str, key: str, body: bytes | Readable, *, size_hint: int | None = None,
            content_type: str = "application/octet-stream", meta: dict[str, str] | None = None,
            forbid_overwrite: bool = False, expected_md5: str | None = None) -> StoredObject:
        """Write one object durably. Raises BucketMissing, ObjectExists, or ValueError on an MD5 mismatch."""
        if isinstance(body, bytes):
            data: bytes | None = body
        elif size_hint is not None and size_hint <= INLINE_LIMIT:
            data = body.read(size_hint)
        else:
            data = None
        blob: str | None = None
        if data is not None and len(data) <= INLINE_LIMIT:
            size, digest, crc = len(data), hashlib.md5(data).hexdigest(), crc64(data)
        else:
            blob, size, digest, crc = self.files.write(data if data is not None else body)
            data = None
        if expected_md5 is not None and expected_md5 != digest:
            self.files.drop(blob)
            raise ValueError("Content-MD5 does not match the body")
        row = StoredObject(key, size, f'"{digest}"', time.time(), content_type,
                           {**(meta or {}), CRC_HEADER: str(crc)}, blob)
        try:
            self.commit(bucket, row, data, forbid_overwrite)
        except BaseException:
            self.files.drop(blob)
            raise
        return row

    def commit(self, bucket: str, row: StoredObject, data: bytes | None, forbid_overwrite: bool,
               also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Commit an object's index row (its body file, if any, already durable); ``also`` runs in the same
        transaction (completing a multipart upload drops the upload with it)."""
        kb = row.key.encode("utf-8")
        with self.write_lock:
            conn = self.connection()
            if not self.bucket_exists(bucket):
                raise BucketMissing(bucket)
            old = conn.execute("SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, kb)).fetchone()
            if old is not None and forbid_overwrite:
                raise ObjectExists(row.key)
            values = (bucket, kb, row.size, row.etag, row.mtime, row.content_type, json.dumps(row.meta), row.blob,
                      data)
            if also is None:
                conn.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?,?,?,?)", values)
            else:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?,?,?,?)", values)
                    also(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        if old is not None:
            self.files.drop(old[0])

    def put_many(self, bucket: str, items: Iterable[tuple[str, bytes]], *,
                 content_type: str = "application/octet-stream",
                 content_type_of: Callable[[str], str] | None = None) -> int:
        """Bulk seeding: write every (key, body) in ONE transaction (bodies > INLINE_LIMIT become files,
        not fsynced one by one). Creates the bucket if needed. Returns the number of objects written."""
        self.create_bucket(bucket)
        now = time.time()
        count = 0
        wrote_files = False
        replaced: list[str] = []
        with self.write_lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key, body in items:
                    blob = None
                    data: bytes | None = body
                    if len(body) > INLINE_LIMIT:
                        blob, _, _, _ = self.files.write(body, durable=False)
                        data, wrote_files = None, True
                    kb = key.encode("utf-8")
                    old = conn.execute("SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, kb)).fetchone()
                    if old is not None and old[0]:
                        replaced.append(old[0])
                    conn.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?,?,?,?)",
                                 (bucket, kb, len(body), f'"{hashlib.md5(body).hexdigest()}"', now,
                                  content_type_of(key) if content_type_of else content_type,
                                  "{}", blob, data))  # no CRC: computed when read (10% of seeding)
                    count += 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if wrote_files:
            os.sync()
        for blob_name in replaced:
            self.files.drop(blob_name)
        return count

    def head(self, bucket: str, key: str) -> StoredObject | None:
        row = self.connection().execute(
            "SELECT key, size, etag, mtime, ctype, meta, blob FROM objects WHERE bucket=? AND key=?",
            (bucket, key.encode("utf-8"))).fetchone()
        return None if row is None else _row(row)

    def get(self, bucket: str, key: str) -> tuple[StoredObject, bytes] | None:
        """The object and its whole body, or None."""
        found = self.open(bucket, key)
        if found is None:
            return None
        obj, body = found
        with body:
            return obj, body.read()

    def open(self, bucket: str, key: str) -> tuple[StoredObject, BinaryIO] | None:
        """The object and its body as an open file (a BytesIO for an inline body), or None. The caller closes
        it; an overwrite or delete meanwhile does not disturb a body already open."""
        for _ in range(3):  # a concurrent overwrite may unlink the file between the row read and the open
            row = self.connection().execute(
                "SELECT key, size, etag, mtime, ctype, meta, blob, body FROM objects WHERE bucket=? AND key=?",
                (bucket, key.encode("utf-8"))).fetchone()
            if row is None:
                return None
            obj = _row(row[:7])
            if obj.blob is None:
                return obj, io.BytesIO(bytes(row[7]))
            try:
                return obj, open(self.files.path(obj.blob), "rb")  # noqa: SIM115 - handed to the caller
            except FileNotFoundError:
                continue
        return None

    def delete(self, bucket: str, key: str) -> bool:
        """Delete one key; False when it did not exist."""
        with self.write_lock:
            conn = self.connection()
            kb = key.encode("utf-8")
            old = conn.execute("SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, kb)).fetchone()
            if old is None:
                return False
            conn.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket, kb))
        self.files.drop(old[0])
        return True
    def list_page(self, bucket: str, prefix: str = "", delimiter: str = "", marker: str = "",
                  max_keys: int = 1000) -> ListPage:
        """One listing page: keys after ``marker`` under ``prefix``; with ``delimiter``, rolled-up prefixes."""
        return list_page(self.connection(), bucket, prefix, delimiter, marker, max_keys)

    def iter_all(self, bucket: str) -> Iterator[StoredObject]:
        """Every object of a bucket in key order (for consistency checks)."""
        marker = ""
        while True:
            page = self.list_page(bucket, marker=marker, max_keys=1000)
            yield from page.objects
            if not page.truncated:
                return
            marker = page.next_marker

    def verify(self) -> list[str]:
        """Consistency check: every index row's body exists and has the recorded size and MD5."""
        problems = []
        for bucket, kb, size, etag, blob, body in self.connection().execute(
                "SELECT bucket, key, size, etag, blob, body FROM objects"):
            try:
                data = bytes(body) if blob is None else self.files.path(blob).read_bytes()
            except FileNotFoundError:
                problems.append(f"{bucket}/{bytes(kb).decode()}: body file missing")
                continue
            multipart = "-" in etag  # "<md5 of part md5s>-<n>": only the size can be checked
            if len(data) != size or (not multipart and f'"{hashlib.md5(data).hexdigest()}"' != etag):
                problems.append(f"{bucket}/{bytes(kb).decode()}: body does not match its index row")
        return problems


def _row(row: Sequence[Any]) -> StoredObject:
    key, size, etag, mtime, ctype, meta, blob = row
    return StoredObject(bytes(key).decode("utf-8"), int(size), str(etag), float(mtime),
                        str(ctype), json.loads(str(meta)), None if blob is None else str(blob))

