"""The COS object operations of the local server: put, copy, get, head, delete. Bucket operations are in
``buckets``, multipart upload in ``multipart``, processing in ``ci_operations``, dispatch in ``routing``.

Each operation takes the server state and the parsed request, returns a ``protocol.Response`` and raises
``protocol.CosError`` for an error reply; none touches the socket. Besides ``x-cos-meta-*``, an object keeps
the standard headers COS stores (Cache-Control, Content-Disposition, Content-Encoding, Content-Language,
Expires) and its CRC-64; GET honours every ``response-*`` override COS documents
(https://cloud.tencent.com/document/product/436/7753).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import unquote

from reconciler.local import conditions, replies
from reconciler.local.auth import header_bytes_text
from reconciler.local.context import ServerState
from reconciler.local.protocol import CosError, Readable, Request, Response
from reconciler.local.checksum import crc64
from reconciler.local.store import CRC_HEADER, BucketMissing, ObjectExists, StoredObject
from reconciler.local.write_options import CLASS_HEADER, SSE_HEADER, write_options

STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")
RESPONSE_OVERRIDES = {"response-content-type": "Content-Type", "response-content-language": "Content-Language",
                      "response-expires": "Expires", "response-cache-control": "Cache-Control",
                      "response-content-disposition": "Content-Disposition",
                      "response-content-encoding": "Content-Encoding"}


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


def stored_headers(req: Request) -> dict[str, str]:
    """What an object keeps of a write's headers: ``x-cos-meta-*`` and the standard ones COS stores."""
    kept = {k: header_bytes_text(v) for k, v in req.headers.items() if k.startswith("x-cos-meta-")}
    kept.update({name: header_bytes_text(req.headers[name.lower()]) for name in STORED_HEADERS
                 if name.lower() in req.headers})
    kept.update(write_options(req))  # SSE AES256 and the storage class, or a 501 (``write_options``)
    return kept


def store_object(state: ServerState, req: Request, body: bytes | None = None,
                 headers: dict[str, str] | None = None, content_type: str | None = None) -> StoredObject:
    """Store the request body (or ``body``, with ``headers`` and ``content_type``) as the object."""
    assert req.bucket is not None
    forbid = req.headers.get("x-cos-forbid-overwrite", "").strip().lower() == "true"
    expected = md5_header(req) if body is None else None  # before the body is touched: InvalidDigest drains it
    meta = stored_headers(req) if headers is None else headers  # likewise: a refused SSE or class drains it
    source: bytes | Readable
    if body is None:
        if not req.body.present:
            raise CosError("MissingContentLength", "PUT needs a Content-Length or a chunked body.")
        source, length = req.body.reader(), req.body.length
    else:
        source, length = body, len(body)
    try:
        return state.store.put(req.bucket, req.key, source, size_hint=length,
                               content_type=content_type or req.headers.get("content-type", "application/octet-stream"),
                               meta=meta, forbid_overwrite=forbid,
                               expected_md5=expected)
    except BucketMissing:
        raise CosError("NoSuchBucket", "The specified bucket does not exist.") from None
    except ObjectExists:
        raise CosError("FileAlreadyExists", "The object already exists and x-cos-forbid-overwrite is true.") from None
    except ValueError:
        raise CosError("BadDigest", "The Content-MD5 you specified did not match what we received.") from None


def put_object(state: ServerState, req: Request) -> Response:
    obj = store_object(state, req)
    sse = {SSE_HEADER: obj.meta[SSE_HEADER]} if SSE_HEADER in obj.meta else {}
    return Response(200, {"ETag": obj.etag, **_crc(obj), **sse})


def _crc(obj: StoredObject) -> dict[str, str]:
    value = obj.meta.get(CRC_HEADER)
    return {} if value is None else {CRC_HEADER: value}


def copy_source(state: ServerState, req: Request) -> tuple[StoredObject, bytes]:
    """The source of a copy (``x-cos-copy-source: <bucket>.cos.<region>.myqcloud.com/<url-encoded key>``),
    after its ``x-cos-copy-source-If-*`` conditions."""
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
    conditions.check_copy_source(found[0], req.headers)
    return found


def copy_object(state: ServerState, req: Request) -> Response:
    """PUT Object - Copy; ``x-cos-metadata-directive`` Copy (default) keeps the source's headers."""
    obj, body = copy_source(state, req)  # a copy has no body: the handler discards or refuses one
    if req.headers.get("x-cos-metadata-directive", "Copy").strip().lower() == "replaced":
        copied = store_object(state, req, body, stored_headers(req))
    else:
        kept = {k: v for k, v in obj.meta.items() if k not in (CRC_HEADER, CLASS_HEADER, SSE_HEADER)}
        copied = store_object(state, req, body, {**kept, **write_options(req)}, obj.content_type)
    return Response(200, _crc(copied), replies.copy_result(copied))


def object_headers(obj: StoredObject) -> dict[str, str]:
    headers = {"ETag": obj.etag, "Last-Modified": email.utils.formatdate(obj.mtime, usegmt=True),
               "Accept-Ranges": "bytes", "Content-Type": obj.content_type}  # storage class: in meta unless STANDARD
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


def _chunks(body: BinaryIO, remaining: int) -> Iterator[bytes]:
    """Up to ``remaining`` bytes of an open body, 1 MiB at a time; closes it."""
    with body:
        while remaining > 0:
            chunk = body.read(min(remaining, 1 << 20))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _crc_of(body: BinaryIO) -> str:
    crc = 0
    while chunk := body.read(1 << 20):
        crc = crc64(chunk, crc)
    body.seek(0)
    return str(crc)


def get_object(state: ServerState, req: Request, *, with_body: bool = True) -> Response:
    """GET/HEAD Object; a body is streamed from its file, never read whole into memory."""
    assert req.bucket is not None
    found = state.store.open(req.bucket, req.key)
    if found is None:
        raise CosError("NoSuchKey", "The specified key does not exist.")
    obj, body = found
    try:
        headers = object_headers(obj)
        if CRC_HEADER not in obj.meta:  # seeded by put_many, which leaves the CRC to the first read
            headers[CRC_HEADER] = _crc_of(body)
        if conditions.check_read(obj, req.headers):
            body.close()
            return Response(304, {**headers, "Content-Length": "0"})
        for param, header in RESPONSE_OVERRIDES.items():
            if param in req.params:
                headers[header] = req.params[param]
        status, start, length = 200, 0, obj.size
        span = _range(req.headers.get("range", ""), obj.size) if "range" in req.headers else None
        if span is not None:
            status, start, length = 206, span[0], span[1] - span[0] + 1
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{obj.size}"
        headers["Content-Length"] = str(length)
    except BaseException:
        body.close()
        raise
    if not with_body:
        body.close()
        return Response(status, headers)
    body.seek(start)
    return Response(status, headers, _chunks(body, length))


def head_object(state: ServerState, req: Request) -> Response:
    return get_object(state, req, with_body=False)


def delete_object(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    state.store.delete(req.bucket, req.key)
    return Response(204)
