"""Seeding the local store without HTTP: ``import_tree`` copies a folder of files into a bucket (``local import``)."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from pathlib import Path

from reconciler.local.store import LocalStore


def _files(directory: Path, prefix: str) -> Iterator[tuple[str, bytes]]:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            yield prefix + path.relative_to(directory).as_posix(), path.read_bytes()


def import_tree(root: Path | str, directory: Path | str, bucket: str, prefix: str = "") -> int:
    """Copy every file under ``directory`` into ``bucket`` as ``prefix + relative/path``; creates the bucket.
    Returns the number of objects written. Raises FileNotFoundError / NotADirectoryError for a bad directory."""
    source = Path(directory)
    if not source.exists():
        raise FileNotFoundError(2, "No such directory", str(source))
    if not source.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(source))
    store = LocalStore(root)
    try:
        return store.put_many(bucket, _files(source, prefix), content_type_of=_guess)
    finally:
        store.close()


def _guess(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"
