"""The COS object operations of the local server: put, copy, get, head, delete. Bucket operations are in
``buckets``, processing in ``ci_operations``, dispatch in ``routing``.

Each operation takes the server state and the parsed request, returns a ``protocol.Response`` and raises
``protocol.CosError`` for an error reply; none touches the socket.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
from urllib.parse import unquote

from reconciler.local import replies
from reconciler.local.auth import header_bytes_text
from reconciler.local.context import ServerState
from reconciler.local.protocol import CosError, Readable, Request, Response
from reconciler.local.store import BucketMissing, ObjectExists, StoredObject


def md5_header(req: Request) -> str | None:
    """The Content-MD5 header as hex, or None; InvalidDigest when it is not a base64 MD5."""
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


def store_object(state: ServerState, req: Request, body: bytes | None = None) -> StoredObject:
    """Store the request body (or ``body``) as the object; returns its index row."""
    assert req.bucket is not None
    expected = md5_header(req)
    meta = {k: header_bytes_text(v) for k, v in req.headers.items() if k.startswith("x-cos-meta-")}
    forbid = req.headers.get("x-cos-forbid-overwrite", "").strip().lower() == "true"
    source: bytes | Readable
    if body is None:
        if req.body.length is None:
            raise CosError("MissingContentLength", "PUT needs a Content-Length.")
        source, length = req.body.reader(), req.body.length
    else:
        source, length = body, len(body)
    try:
        return state.store.put(req.bucket, req.key, source, size_hint=length,
                               content_type=req.headers.get("content-type", "application/octet-stream"),
                               meta=meta, forbid_overwrite=forbid, expected_md5=expected)
    except BucketMissing:
        raise CosError("NoSuchBucket", "The specified bucket does not exist.") from None
    except ObjectExists:
        raise CosError("FileAlreadyExists", "The object already exists and x-cos-forbid-overwrite is true.") from None
    except ValueError:
        raise CosError("BadDigest", "The Content-MD5 you specified did not match what we received.") from None


def put_object(state: ServerState, req: Request) -> Response:
    obj = store_object(state, req)
    return Response(200, {"ETag": obj.etag})


def copy_object(state: ServerState, req: Request) -> Response:
    """PUT Object - Copy: ``x-cos-copy-source: <bucket>.cos.<region>.myqcloud.com/<url-encoded key>``."""
    assert req.bucket is not None
    source = req.headers["x-cos-copy-source"].strip()
    host, _, path = source.partition("/")
    src_bucket = host.split(".cos.")[0] if ".cos." in host else ""
    src_key = unquote(path.split("?versionId=")[0])
    if not src_bucket or not src_key:
        raise CosError("InvalidArgument", "x-cos-copy-source must be <bucket>.cos.<region>.myqcloud.com/<key>.")
    if not state.store.bucket_exists(src_bucket):
        raise CosError("NoSuchBucket", "The source bucket does not exist.")
    found = state.store.get(src_bucket, src_key)
    if found is None:
        raise CosError("NoSuchKey", "The source object does not exist.")
    obj, body = found
    if req.headers.get("x-cos-metadata-directive", "Copy").strip().lower() != "replaced":
        req.headers["content-type"] = obj.content_type
        req.headers = {k: v for k, v in req.headers.items() if not k.startswith("x-cos-meta-")}
        req.headers.update({k: v.encode("utf-8").decode("latin-1") for k, v in obj.meta.items()})
    req.headers.pop("content-md5", None)  # a copy has no body: the handler discards or refuses one
    copied = store_object(state, req, body)
    return Response(200, {}, replies.copy_result(copied))


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


def get_object(state: ServerState, req: Request, *, with_body: bool = True) -> Response:
    assert req.bucket is not None
    store = state.store
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
        return Response(304, {**headers, "Content-Length": "0"})
    if_match = req.headers.get("if-match")
    if if_match is not None and obj.etag not in (if_match.strip(), f'"{if_match.strip()}"'):
        raise CosError("PreconditionFailed", "If-Match does not match the object's ETag.")
    headers["Content-Type"] = req.params.get("response-content-type", obj.content_type)
    span = _range(req.headers.get("range", ""), obj.size) if "range" in req.headers else None
    if span is not None:
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
        headers["Content-Length"] = str(end - start + 1)
        return Response(206, headers, body[start:end + 1])
    headers["Content-Length"] = str(obj.size)
    return Response(200, headers, body)


def head_object(state: ServerState, req: Request) -> Response:
    return get_object(state, req, with_body=False)


def delete_object(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    state.store.delete(req.bucket, req.key)
    return Response(204)
