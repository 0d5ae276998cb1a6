"""Listing for the local store: one page of keys in byte-wise order, with delimiter roll-up, as indexed range
queries on the SQLite key index (never a directory walk). Also the store's value types and exceptions."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any


class BucketMissing(Exception):
    """The bucket does not exist."""


class BucketNotEmpty(Exception):
    """The bucket still holds objects."""


class ObjectExists(Exception):
    """A create-only write found the key already present."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object's index row (without its body)."""

    key: str
    size: int
    etag: str
    mtime: float
    content_type: str = "application/octet-stream"
    meta: dict[str, str] = field(default_factory=dict)
    blob: str | None = None


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a bucket listing, in byte-wise key order."""

    objects: tuple[StoredObject, ...]
    prefixes: tuple[str, ...]
    truncated: bool
    next_marker: str


def _upper(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix`` (None: unbounded)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def list_page(conn: sqlite3.Connection, bucket: str, prefix: str = "", delimiter: str = "", marker: str = "",
              max_keys: int = 1000) -> ListPage:
    """One listing page: keys after ``marker`` under ``prefix``; with ``delimiter``, rolled-up prefixes."""
    if max_keys <= 0:
        return ListPage((), (), False, "")
    pb, mb, db = prefix.encode(), marker.encode(), delimiter.encode()
    hi = _upper(pb) if pb else None
    cursor, inclusive = (mb, False) if mb >= pb else (pb, True)
    objects: list[StoredObject] = []
    prefixes: list[str] = []
    last = b""
    while True:
        want = max_keys - len(objects) - len(prefixes)
        rows = _range(conn, bucket, cursor, inclusive, hi, want + 1)
        if not rows:
            return ListPage(tuple(objects), tuple(prefixes), False, "")
        jumped = False
        for row in rows:
            kb = bytes(row[0])
            if db:
                at = kb.find(db, len(pb))
                if at >= 0:
                    common = kb[: at + len(db)]
                    if common > mb:  # a marker inside a rolled-up prefix has already shown it
                        if len(objects) + len(prefixes) == max_keys:
                            return ListPage(tuple(objects), tuple(prefixes), True, last.decode())
                        prefixes.append(common.decode())
                        last = common
                    after = _upper(common)
                    if after is None or (hi is not None and after >= hi):
                        return ListPage(tuple(objects), tuple(prefixes), False, "")
                    cursor, inclusive, jumped = after, True, True
                    break
            if len(objects) + len(prefixes) == max_keys:
                return ListPage(tuple(objects), tuple(prefixes), True, last.decode())
            meta = {"x-cos-storage-class": str(row[4])} if row[4] else {}  # the one stored header a listing shows
            objects.append(StoredObject(kb.decode("utf-8"), row[1], row[2], row[3], meta=meta))
            last = kb
            cursor, inclusive = kb, False
        if not jumped and len(rows) <= want:
            return ListPage(tuple(objects), tuple(prefixes), False, "")


def _range(conn: sqlite3.Connection, bucket: str, lo: bytes, inclusive: bool, hi: bytes | None,
           limit: int) -> list[Any]:
    op = ">=" if inclusive else ">"
    sql = (f"SELECT key, size, etag, mtime, CASE WHEN instr(meta, 'x-cos-storage-class') "
           f"THEN json_extract(meta, '$.\"x-cos-storage-class\"') END FROM objects WHERE bucket=? AND key {op} ?")
    args: list[object] = [bucket, lo]
    if hi is not None:
        sql += " AND key < ?"
        args.append(hi)
    sql += " ORDER BY key LIMIT ?"
    args.append(limit)
    return list(conn.execute(sql, args).fetchall())
