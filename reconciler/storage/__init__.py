"""The storage interface every effect goes through, and its values.

``Storage`` is what the observer, the executor and the ledger store use; ``storage.cos.CosStorage`` implements
it over cos-python-sdk-v5 (the only module that imports ``qcloud_cos``). Implementations translate every
failure into ``errors.StorageError`` (``NotFound`` for a missing bucket/object on get/delete).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from reconciler.model import ObjectInfo


@dataclass(frozen=True, slots=True)
class ProcessedObject:
    """One ``ProcessResults/Object`` of an image_process reply."""

    key: str
    etag: str
    size: int = 0
    format: str = ""
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class ProcessResult:
    """The reply of one image_process call."""

    objects: tuple[ProcessedObject, ...]
    request_id: str = ""


class Storage(Protocol):
    """The COS operations cosrecon needs. Every method may raise ``errors.StorageError``."""

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in COS order, 1000 per request; ``start_after``: only keys after it
        (COS's marker), so a key range can be read without listing what precedes it."""
        ...

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object, or None when it does not exist."""
        ...

    def get_object(self, bucket: str, key: str) -> bytes:
        """The object's body; ``NotFound`` when it does not exist."""
        ...

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        forbid_overwrite: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        """Write a whole object; returns its ETag. ``forbid_overwrite`` makes it create-only (409 if present)."""
        ...

    def delete_object(self, bucket: str, key: str) -> None:
        ...

    def delete_objects(self, bucket: str, keys: Iterable[str]) -> None:
        """Delete many keys (batches of 1000); missing keys are not an error."""
        ...

    def process(self, bucket: str, key: str, pic_operations: str) -> ProcessResult:
        """``POST /<key>?image_process`` with the given Pic-Operations JSON."""
        ...

    def put_processed(self, bucket: str, key: str, body: bytes, pic_operations: str, *,
                      content_type: str = "application/octet-stream") -> ProcessResult:
        """Processing upon upload: ``PUT /<key>`` of ``body`` with a Pic-Operations header; the reply's outputs."""
        ...

    def upload_file(self, bucket: str, key: str, path: Path, part_mb: int) -> str:
        """Upload a local file, in parts of ``part_mb`` MB when it is larger than one part (multipart upload), else
        with one PUT; returns its ETag (``upload_etag`` says which it will be)."""
        ...

    def process_download(self, bucket: str, key: str, rule: str) -> bytes:
        """Processing during download: ``GET /<key>?<rule>`` returns the processed image; nothing is stored."""
        ...


@runtime_checkable
class ImageStyles(Protocol):
    """A storage that can read a bucket's CI image styles (``CosStorage``; test fakes need not)."""

    def image_styles(self, bucket: str) -> dict[str, str]:
        """The bucket's image styles, name -> definition ({} when it has none)."""
        ...


@runtime_checkable
class LevelListing(Protocol):
    """A storage that can list one level of a prefix with the ``/`` delimiter (``CosStorage``, ``MemoryStorage``):
    what ``observe.parallel`` splits a listing with."""

    def list_level(self, bucket: str, prefix: str) -> tuple[list[ObjectInfo], list[str]]:
        """The objects directly under ``prefix`` and its common prefixes (each ending with ``/``), in key order."""
        ...


def upload_etag(path: Path, part_mb: int | None = None) -> str:
    """The ETag an upload gives ``path``: its MD5 for a simple PUT (``part_mb`` None); with ``Storage.upload_file``
    in parts of ``part_mb`` MB, its MD5 when it fits in one part, else COS's
    multipart ETag, the MD5 of the parts' binary MD5s then ``-<part count>`` (cos-notes), with the parts the SDK's
    ``upload_file`` cuts (``part_mb`` MB each, the last one shorter; above 10000 parts, 10000 parts of
    size // 10000 with the remainder added to the last)."""
    size = path.stat().st_size
    part = (part_mb or 0) * 1024 * 1024
    if part_mb is None or size <= part:
        return _md5_of(path, 0, size)
    count = -(-size // part)
    last = size - part * (count - 1)
    if count > 10000:
        count, part = 10000, size // 10000
        last = size % 10000 + part
    digests = b"".join(bytes.fromhex(_md5_of(path, i * part, part if i < count - 1 else last)) for i in range(count))
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{count}"


def _md5_of(path: Path, offset: int, length: int) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        handle.seek(offset)
        while length > 0:
            block = handle.read(min(length, 1 << 20))
            if not block:
                break
            digest.update(block)
            length -= len(block)
    return digest.hexdigest()
