"""The storage interface every effect goes through, and its values.

``Storage`` is what the observer, the executor and the ledger store use; ``storage.cos.CosStorage`` implements
it over cos-python-sdk-v5 (the only module that imports ``qcloud_cos``). Implementations translate every
failure into ``errors.StorageError`` (``NotFound`` for a missing bucket/object on get/delete).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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

    def process_download(self, bucket: str, key: str, rule: str) -> bytes:
        """Processing during download: ``GET /<key>?<rule>`` returns the processed image; nothing is stored."""
        ...


@runtime_checkable
class ImageStyles(Protocol):
    """A storage that can read a bucket's CI image styles (``CosStorage``; test fakes need not)."""

    def image_styles(self, bucket: str) -> dict[str, str]:
        """The bucket's image styles, name -> definition ({} when it has none)."""
        ...
