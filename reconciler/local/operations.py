"""The COS object and bucket operations of the local server (routing included); processing is in ``ci_operations``.

Each function takes the connection's handler (to read the body and send the reply) and the parsed request,
and raises ``protocol.CosError`` for an error reply.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import xml.etree.ElementTree as ET
from urllib.parse import unquote
from typing import TYPE_CHECKING, BinaryIO

from reconciler.local import ci_operations, replies
from reconciler.local.auth import header_bytes_text
from reconciler.local.protocol import MAX_KEY_BYTES, CosError, Request
from reconciler.local.store import BucketMissing, BucketNotEmpty, ObjectExists, StoredObject

if TYPE_CHECKING:
    from reconciler.local.handler import Handler


class LimitedReader:
    """Reads at most ``remaining`` bytes of a request body (keep-alive: never past the body)."""

    def __init__(self, stream: BinaryIO, remaining: int) -> None:
        self.stream, self.remaining = stream, remaining

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.stream.read(size)
        self.remaining -= len(data)
        if len(data) < size:
            raise ConnectionResetError("the client closed the connection mid-body")
        return data


def route(h: Handler, req: Request) -> None:
    stats, store = h.state.stats, h.state.store
    if req.bucket is None:
        if req.method == "GET" and req.key == "":
            stats.count("list_buckets")
            h.send(200, replies.buckets(store.list_buckets(), req.region))
            return
        raise CosError("InvalidURI", "The Host header names no bucket (expected <bucket>.cos.<region>.myqcloud.com).")
    if req.key == "":
        _bucket_operation(h, req)
        return
    if not store.bucket_exists(req.bucket):
        raise CosError("NoSuchBucket", "The specified bucket does not exist.")
    if len(req.key.encode("utf-8")) > MAX_KEY_BYTES:
        raise CosError("KeyTooLong", f"Object keys are at most {MAX_KEY_BYTES} bytes.")
    if req.method == "PUT":
        if "x-cos-copy-source" in req.headers:
            stats.count("copy_object")
            _copy_object(h, req)
        elif "pic-operations" in req.headers:
            ci_operations.put_with_processing(h, req)
        else:
            stats.count("put_object")
            obj = put_object(h, req)
            h.send(200, headers={"ETag": obj.etag})
    elif req.method == "GET":
        rule = ci_operations.download_rule(req.params)
        if rule is not None:
            ci_operations.get_with_processing(h, req, rule)
        else:
            stats.count("get_object")
            _get_object(h, req, with_body=True)
    elif req.method == "HEAD":
        stats.count("head_object")
        _get_object(h, req, with_body=False)
    elif req.method == "DELETE":
        stats.count("delete_object")
        store.delete(req.bucket, req.key)
        h.send(204)
    elif req.method == "POST" and "image_process" in req.params:
        ci_operations.image_process(h, req)
    else:
        raise CosError("MethodNotAllowed", f"{req.method} is not supported on an object here.")


def _bucket_operation(h: Handler, req: Request) -> None:
    assert req.bucket is not None
    stats, store = h.state.stats, h.state.store
    if req.method == "PUT":
        stats.count("put_bucket")
        if not store.create_bucket(req.bucket):
            raise CosError("BucketAlreadyExists", "The requested bucket name is not available.")
        h.send(200)
        return
    if req.method == "HEAD":
        stats.count("head_bucket")
    if not store.bucket_exists(req.bucket):
        raise CosError("NoSuchBucket", "The specified bucket does not exist.")
    if req.method == "HEAD":
        h.send(200)
    elif req.method == "DELETE":
        stats.count("delete_bucket")
        try:
            store.delete_bucket(req.bucket)
        except BucketMissing:
            raise CosError("NoSuchBucket", "The specified bucket does not exist.") from None
        except BucketNotEmpty:
            raise CosError("BucketNotEmpty", "The bucket you tried to delete is not empty.") from None
        h.send(204)
    elif req.method == "GET":
        stats.count("list_objects")
        _list(h, req)
    elif req.method == "POST" and "delete" in req.params:
        stats.count("delete_objects")
        _delete_many(h, req)
    else:
        raise CosError("MethodNotAllowed", f"{req.method} is not supported on a bucket here.")


def _md5_header(req: Request) -> str | None:
    value = req.headers.get("content-md5")
    if value is None:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise CosError("InvalidDigest", "The Content-MD5 you specified is not valid.")
    return raw.hex()


def put_object(h: Handler, req: Request, body: bytes | None = None) -> StoredObject:
    """Store the request body (or ``body``) as the object; returns its index row."""
    assert req.bucket is not None
    expected = _md5_header(req)
    meta = {k: header_bytes_text(v) for k, v in req.headers.items() if k.startswith("x-cos-meta-")}
    forbid = req.headers.get("x-cos-forbid-overwrite", "").strip().lower() == "true"
    if body is None and "content-length" not in req.headers:
        raise CosError("MissingContentLength", "PUT needs a Content-Length.")
    source: bytes | LimitedReader
    if body is None:
        length = h.content_length()
        req.body_read = True
        source = LimitedReader(h.rfile, length)  # type: ignore[arg-type]
    else:
        source, length = body, len(body)
    try:
        return h.state.store.put(req.bucket, req.key, source, size_hint=length,  # type: ignore[arg-type]
                                 content_type=req.headers.get("content-type", "application/octet-stream"),
                                 meta=meta, forbid_overwrite=forbid, expected_md5=expected)
    except BucketMissing:
        raise CosError("NoSuchBucket", "The specified bucket does not exist.") from None
    except ObjectExists:
        raise CosError("FileAlreadyExists", "The object already exists and x-cos-forbid-overwrite is true.") from None
    except ValueError:
        raise CosError("BadDigest", "The Content-MD5 you specified did not match what we received.") from None


def _copy_object(h: Handler, req: Request) -> None:
    """PUT Object - Copy: ``x-cos-copy-source: <bucket>.cos.<region>.myqcloud.com/<url-encoded key>``."""
    assert req.bucket is not None
    source = req.headers["x-cos-copy-source"].strip()
    host, _, path = source.partition("/")
    src_bucket = host.split(".cos.")[0] if ".cos." in host else ""
    src_key = unquote(path.split("?versionId=")[0])
    if not src_bucket or not src_key:
        raise CosError("InvalidArgument", "x-cos-copy-source must be <bucket>.cos.<region>.myqcloud.com/<key>.")
    if not h.state.store.bucket_exists(src_bucket):
        raise CosError("NoSuchBucket", "The source bucket does not exist.")
    found = h.state.store.get(src_bucket, src_key)
    if found is None:
        raise CosError("NoSuchKey", "The source object does not exist.")
    obj, body = found
    if req.headers.get("x-cos-metadata-directive", "Copy").strip().lower() != "replaced":
        req.headers["content-type"] = obj.content_type
        req.headers = {k: v for k, v in req.headers.items() if not k.startswith("x-cos-meta-")}
        req.headers.update({k: v.encode("utf-8").decode("latin-1") for k, v in obj.meta.items()})
    req.headers.pop("content-md5", None)
    h.read_body()
    copied = put_object(h, req, body)
    h.send(200, replies.copy_result(copied))


def object_headers(obj: StoredObject) -> dict[str, str]:
    headers = {"ETag": obj.etag, "Last-Modified": email.utils.formatdate(obj.mtime, usegmt=True),
               "Accept-Ranges": "bytes", "x-cos-storage-class": "STANDARD"}
    headers.update({k: v.encode("utf-8").decode("latin-1") for k, v in obj.meta.items()})
    return headers


def _range(spec: str, size: int) -> tuple[int, int] | None:
    if not spec.startswith("bytes=") or "," in spec:
        return None
    first, _, last = spec[6:].strip().partition("-")
    try:
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), (int(last) if last else size - 1)
    except ValueError:
        return None
    if start >= size or start > end:
        raise CosError("InvalidRange", "The requested range is not satisfiable.")
    return start, min(end, size - 1)


def _get_object(h: Handler, req: Request, *, with_body: bool) -> None:
    assert req.bucket is not None
    store = h.state.store
    if with_body:
        found = store.get(req.bucket, req.key)
        obj, body = found if found else (None, b"")
    else:
        obj, body = store.head(req.bucket, req.key), b""
    if obj is None:
        raise CosError("NoSuchKey", "The specified key does not exist.")
    headers = object_headers(obj)
    if_none = req.headers.get("if-none-match")
    if if_none is not None and obj.etag in (if_none.strip(), f'"{if_none.strip()}"'):
        h.send(304, headers=headers, length=0)
        return
    if_match = req.headers.get("if-match")
    if if_match is not None and obj.etag not in (if_match.strip(), f'"{if_match.strip()}"'):
        raise CosError("PreconditionFailed", "If-Match does not match the object's ETag.")
    content_type = req.params.get("response-content-type", obj.content_type)
    span = _range(req.headers.get("range", ""), obj.size) if "range" in req.headers else None
    if span is not None:
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
        h.send(206, body[start:end + 1], content_type, headers, length=end - start + 1)
    else:
        h.send(200, body, content_type, headers, length=obj.size)


def _list(h: Handler, req: Request) -> None:
    assert req.bucket is not None
    p = req.params
    try:
        max_keys = int(p.get("max-keys", "1000"))
    except ValueError:
        raise CosError("InvalidArgument", "max-keys must be an integer.") from None
    if max_keys < 0:
        raise CosError("InvalidArgument", "max-keys must not be negative.")
    max_keys = min(max_keys, 1000)
    prefix, delimiter, marker = p.get("prefix", ""), p.get("delimiter", ""), p.get("marker", "")
    page = h.state.store.list_page(req.bucket, prefix, delimiter, marker, max_keys)
    body = replies.listing(req.bucket, page, prefix=prefix, marker=marker, delimiter=delimiter, max_keys=max_keys,
                           url_encoding=p.get("encoding-type", "") == "url")
    h.send(200, body)


def _delete_many(h: Handler, req: Request) -> None:
    assert req.bucket is not None
    expected = _md5_header(req)
    body = h.read_body()
    if expected is not None and hashlib.md5(body).hexdigest() != expected:
        raise CosError("BadDigest", "The Content-MD5 you specified did not match what we received.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CosError("MalformedXML", "The XML you provided was not well-formed.") from None
    keys = [el.findtext("Key") or "" for el in root.iter("Object")]
    if not keys or len(keys) > 1000:
        raise CosError("MalformedXML", "A multi-delete names 1 to 1000 objects.")
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    deleted, failed = [], []
    for key in keys:
        if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            failed.append((key, "InvalidArgument", "invalid key"))
            continue
        h.state.store.delete(req.bucket, key)
        deleted.append(key)
    h.send(200, replies.delete_result(deleted, failed, quiet))
