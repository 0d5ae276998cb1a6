"""An in-memory ``Storage`` for tests: buckets in dicts, every request recorded, no HTTP.

It behaves as ``CosStorage`` does where the planner, the engine and the state store can tell: listings in key order
after ``start_after``, ``NotFound`` for a missing bucket (and a missing object on get), create-only puts refused
with 409 ``FileAlreadyExists``, ``delete_objects`` ignoring missing keys, and image_process writing each rule's
output at the key its fileid resolves to (``model.resolve_fileid``) in the rule's bucket. An object's
ETag is the MD5 of its body, unless it was seeded with an ETag of its own (``MemoryStorage({bucket: {key: etag}})``,
for tests that care only about keys and ETags). The processed image is not computed: an output's body names its
source and rule. Integration tests use the real SDK against ``reconciler.local`` instead; this is for tests of
the layers above ``Storage`` that need a misbehaviour the server cannot be made to show (subclass and override).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from reconciler.model import resolve_fileid
from reconciler.errors import NotFound, StorageError
from reconciler.model import ObjectInfo
from reconciler.storage import ProcessedObject, ProcessResult, Storage, upload_etag


class MemoryStorage:
    """Buckets of objects in memory. ``buckets``: bucket -> key -> ETag (what listings show), ``bodies``: (bucket,
    key) -> body. Requests are recorded: ``lists`` (bucket, prefix), ``heads`` (bucket, key), ``writes``
    (operation, bucket, key) for puts, deletes and image_process calls."""

    def __init__(self, buckets: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.buckets: dict[str, dict[str, str]] = {b: dict(objects) for b, objects in (buckets or {}).items()}
        self.bodies: dict[tuple[str, str], bytes] = {}
        self.lists: list[tuple[str, str]] = []
        self.heads: list[tuple[str, str]] = []
        self.writes: list[tuple[str, str, str]] = []

    @property
    def process_calls(self) -> int:
        return sum(1 for op, _, _ in self.writes if op == "image_process")

    def _bucket(self, bucket: str) -> dict[str, str]:
        objects = self.buckets.get(bucket)
        if objects is None:
            raise NotFound("The specified bucket does not exist.", bucket=bucket, status=404, code="NoSuchBucket")
        return objects

    def _store(self, bucket: str, key: str, body: bytes) -> str:
        etag = hashlib.md5(body).hexdigest()
        self._bucket(bucket)[key] = etag
        self.bodies[(bucket, key)] = body
        return etag

    # --- reading -------------------------------------------------------------------------------------------

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        self.lists.append((bucket, prefix))
        objects = self._bucket(bucket)
        for key in sorted(k for k in objects if k.startswith(prefix) and k > start_after):
            if key in objects:  # not deleted while listing
                yield ObjectInfo(key, objects[key], len(self.bodies.get((bucket, key), b"")))

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        self.heads.append((bucket, key))
        etag = self._bucket(bucket).get(key)
        return None if etag is None else ObjectInfo(key, etag, len(self.bodies.get((bucket, key), b"")))

    def get_object(self, bucket: str, key: str) -> bytes:
        if key not in self._bucket(bucket):
            raise NotFound("The specified key does not exist.", bucket=bucket, key=key, status=404, code="NoSuchKey")
        return self.bodies.get((bucket, key), b"")

    def get_head(self, bucket: str, key: str, length: int) -> bytes:
        return self.get_object(bucket, key)[:length]

    # --- writing -------------------------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, body: bytes, *, forbid_overwrite: bool = False,
                   content_type: str = "application/octet-stream") -> str:
        self.writes.append(("put_object", bucket, key))
        if forbid_overwrite and key in self._bucket(bucket):
            raise StorageError("The object already exists.", bucket=bucket, key=key, status=409,
                               code="FileAlreadyExists")
        return self._store(bucket, key, body)

    def delete_object(self, bucket: str, key: str) -> None:
        self.writes.append(("delete_object", bucket, key))
        self._bucket(bucket).pop(key, None)
        self.bodies.pop((bucket, key), None)

    def delete_objects(self, bucket: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete_object(bucket, key)

    def process(self, bucket: str, key: str, pic_operations: str) -> ProcessResult:
        """Each rule's output written at its resolved key; the reply's ETags are not HEAD's (as the CI docs say)."""
        self.writes.append(("image_process", bucket, key))
        if key not in self._bucket(bucket):
            raise NotFound("The specified key does not exist.", bucket=bucket, key=key, status=404, code="NoSuchKey")
        rules = json.loads(pic_operations)["rules"]
        return ProcessResult(tuple(self.make_output(bucket, key, index, rule) for index, rule in enumerate(rules)))

    def upload_file(self, bucket: str, key: str, path: Path, part_mb: int) -> str:
        """The file stored with the ETag a (multipart) upload gives it."""
        self.writes.append(("upload_file", bucket, key))
        self._store(bucket, key, path.read_bytes())
        etag = self._bucket(bucket)[key] = upload_etag(path, part_mb)
        return etag

    def put_processed(self, bucket: str, key: str, body: bytes, pic_operations: str, *,
                      content_type: str = "application/octet-stream") -> ProcessResult:
        """The object stored, then each rule's output written, as ``process`` writes them."""
        self.writes.append(("put_processed", bucket, key))
        self._store(bucket, key, body)
        rules = json.loads(pic_operations)["rules"]
        return ProcessResult(tuple(self.make_output(bucket, key, index, rule) for index, rule in enumerate(rules)))

    def process_download(self, bucket: str, key: str, rule: str) -> bytes:
        """What processing during download returns here: the source's key and the rule, as bytes; nothing stored."""
        if key not in self._bucket(bucket):
            raise NotFound("The specified key does not exist.", bucket=bucket, key=key, status=404, code="NoSuchKey")
        return f"{key}:{rule}".encode()

    def make_output(self, bucket: str, key: str, index: int, rule: Mapping[str, Any]) -> ProcessedObject:
        """Rule number ``index`` of a call on ``bucket``/``key``: its output, written."""
        out = resolve_fileid(key, unquote(str(rule["fileid"])))  # sent URL-encoded, as CI requires
        body = f"{key}:{rule['rule']}".encode()
        self._store(str(rule.get("bucket") or bucket), out, body)
        return ProcessedObject(out, "f" * 40)


if TYPE_CHECKING:
    _IS_A_STORAGE: Storage = MemoryStorage()  # mypy checks that it implements the whole interface
