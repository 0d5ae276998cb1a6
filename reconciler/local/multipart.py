"""Multipart upload on the local server: initiate, upload part (and part copy), complete, abort, list parts,
list uploads, as COS documents them (https://cloud.tencent.com/document/product/436/14112). The completed
object's ETag is ``"<md5 of the parts' binary md5s>-<n>"``; incomplete uploads are never listed as objects.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

from reconciler.local import operations
from reconciler.local.connection import MAX_COMPLETE_BODY, read_bounded
from reconciler.local.context import ServerState
from reconciler.local.protocol import CosError, Request, Response
from reconciler.local.replies import XML_HEAD, el, iso_time
from reconciler.local.store import CRC_HEADER, ObjectExists
from reconciler.local.uploads import NoSuchUpload, Part, Upload

MIN_PART = 1024 * 1024  # every part but the last (COS: 1 MB .. 5 GB; 1 .. 10000 parts)
MAX_PARTS = 10_000
_OWNER = "<ID>1250000000</ID><DisplayName>1250000000</DisplayName>"


def _bucket(req: Request) -> str:
    assert req.bucket is not None
    return req.bucket


def _upload(state: ServerState, req: Request) -> Upload:
    try:
        return state.uploads.get(_bucket(req), req.key, req.params.get("uploadId", ""))
    except NoSuchUpload:
        raise CosError("NoSuchUpload", "The specified upload does not exist.") from None


def _part_number(req: Request) -> int:
    text = req.params.get("partNumber", "")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARTS:
        raise CosError("InvalidArgument", f"partNumber must be an integer from 1 to {MAX_PARTS}.")
    return int(text)


def _encoding(req: Request) -> bool:
    value = req.params.get("encoding-type")
    if value not in (None, "url"):
        raise CosError("InvalidArgument", "encoding-type may only be 'url'.")
    return value == "url"


def initiate(state: ServerState, req: Request) -> Response:
    upload = state.uploads.initiate(_bucket(req), req.key, req.headers.get("content-type", "application/octet-stream"),
                                    operations.stored_headers(req))
    body = (XML_HEAD + "<InitiateMultipartUploadResult>" + el("Bucket", upload.bucket) + el("Key", upload.key)
            + el("UploadId", upload.upload_id) + "</InitiateMultipartUploadResult>")
    return Response(200, {}, body.encode())


def upload_part(state: ServerState, req: Request) -> Response:
    number = _part_number(req)
    upload = _upload(state, req)
    if not req.body.present:
        raise CosError("MissingContentLength", "Upload Part needs a Content-Length or a chunked body.")
    expected = operations.md5_header(req)
    try:
        part = state.uploads.put_part(upload, number, req.body.reader(), expected)
    except ValueError:
        raise CosError("BadDigest", "The Content-MD5 you specified did not match what we received.") from None
    except NoSuchUpload:
        raise CosError("NoSuchUpload", "The specified upload does not exist.") from None
    return Response(200, {"ETag": part.etag, CRC_HEADER: part.crc})


def upload_part_copy(state: ServerState, req: Request) -> Response:
    """Upload Part - Copy: ``x-cos-copy-source`` (+ optional ``x-cos-copy-source-range: bytes=a-b``)."""
    number = _part_number(req)
    upload = _upload(state, req)
    _, body = operations.copy_source(state, req)
    spec = req.headers.get("x-cos-copy-source-range", "").strip()
    if spec:  # the SDK sends the header empty when no range is given: the whole source (its ut/test.py does so)
        first, _, last = spec.strip().removeprefix("bytes=").partition("-")
        if not (first.isdigit() and last.isdigit()) or int(first) > int(last) or int(last) >= len(body):
            raise CosError("InvalidArgument", "x-cos-copy-source-range must be bytes=first-last within the source.")
        body = body[int(first):int(last) + 1]
    try:
        part = state.uploads.put_part(upload, number, body, None)
    except NoSuchUpload:
        raise CosError("NoSuchUpload", "The specified upload does not exist.") from None
    xml = (XML_HEAD + "<CopyPartResult>" + el("ETag", part.etag) + el("LastModified", iso_time(part.mtime))
           + el("CRC64", part.crc) + "</CopyPartResult>")
    return Response(200, {CRC_HEADER: part.crc}, xml.encode())


def _requested_parts(req: Request) -> list[tuple[int, str]]:
    try:
        root = ET.fromstring(read_bounded(req.body, MAX_COMPLETE_BODY, "Complete Multipart Upload"))
    except ET.ParseError:
        raise CosError("MalformedXML", "The XML you provided was not well-formed.") from None
    wanted = []
    for part in root.iter("Part"):
        number = (part.findtext("PartNumber") or "").strip()
        if not number.isdigit():
            raise CosError("MalformedXML", "Each Part needs a PartNumber.")
        wanted.append((int(number), (part.findtext("ETag") or "").strip().strip('"')))
    if not wanted:
        raise CosError("MalformedXML", "CompleteMultipartUpload names no parts.")
    if [n for n, _ in wanted] != sorted({n for n, _ in wanted}):
        raise CosError("InvalidPartOrder", "The list of parts was not in ascending order.")
    return wanted


def complete(state: ServerState, req: Request) -> Response:
    upload = _upload(state, req)
    wanted = _requested_parts(req)
    have = {p.number: p for p in state.uploads.parts(upload.upload_id)}
    chosen: list[Part] = []
    for index, (number, etag) in enumerate(wanted):
        part = have.get(number)
        if part is None or part.etag.strip('"') != etag:
            raise CosError("InvalidPart", f"Part {number} was not uploaded or its ETag does not match.")
        if part.size < MIN_PART and index < len(wanted) - 1:
            raise CosError("EntityTooSmall", f"Part {number} is smaller than 1 MB and is not the last part.")
        chosen.append(part)
    forbid = req.headers.get("x-cos-forbid-overwrite", "").strip().lower() == "true"
    try:
        obj = state.uploads.complete(upload, chosen, forbid_overwrite=forbid)
    except NoSuchUpload:
        raise CosError("NoSuchUpload", "The specified upload does not exist.") from None
    except ObjectExists:
        raise CosError("FileAlreadyExists", "The object already exists and x-cos-forbid-overwrite is true.") from None
    location = f"{upload.bucket}.cos.{req.region}.myqcloud.com/{quote(upload.key)}"
    xml = (XML_HEAD + "<CompleteMultipartUploadResult>" + el("Location", location) + el("Bucket", upload.bucket)
           + el("Key", upload.key) + el("ETag", obj.etag) + "</CompleteMultipartUploadResult>")
    return Response(200, {CRC_HEADER: obj.meta[CRC_HEADER]}, xml.encode())


def abort(state: ServerState, req: Request) -> Response:
    try:
        state.uploads.abort(_upload(state, req))
    except NoSuchUpload:
        raise CosError("NoSuchUpload", "The specified upload does not exist.") from None
    return Response(204)


def _int_param(req: Request, name: str, default: int, top: int) -> int:
    text = req.params.get(name, str(default))
    if not text.isdigit():
        raise CosError("InvalidArgument", f"{name} must be a non-negative integer.")
    return min(int(text), top)


def list_parts(state: ServerState, req: Request) -> Response:
    url = _encoding(req)
    upload = _upload(state, req)
    max_parts = _int_param(req, "max-parts", 1000, 1000)
    marker = _int_param(req, "part-number-marker", 0, MAX_PARTS)
    page = state.uploads.parts(upload.upload_id, marker, max_parts + 1)
    truncated, page = len(page) > max_parts, page[:max_parts]
    out = [XML_HEAD, "<ListPartsResult>", el("Bucket", upload.bucket)]
    if url:
        out.append(el("Encoding-type", "url"))
    out += [el("Key", quote(upload.key, safe="/") if url else upload.key), el("UploadId", upload.upload_id),
            "<Initiator>" + _OWNER + "</Initiator><Owner>" + _OWNER + "</Owner>",
            el("PartNumberMarker", marker), el("StorageClass", "STANDARD"), el("MaxParts", max_parts),
            el("IsTruncated", "true" if truncated else "false")]
    if page:
        out.append(el("NextPartNumberMarker", page[-1].number))
    out += ["<Part>" + el("PartNumber", p.number) + el("LastModified", iso_time(p.mtime)) + el("ETag", p.etag)
            + el("Size", p.size) + "</Part>" for p in page]
    out.append("</ListPartsResult>")
    return Response(200, {}, "".join(out).encode())


def list_uploads(state: ServerState, req: Request) -> Response:
    """List Multipart Uploads: prefix, delimiter, key-marker, upload-id-marker, max-uploads (<= 1000)."""
    url = _encoding(req)
    bucket = _bucket(req)
    if not state.store.bucket_exists(bucket):
        raise CosError("NoSuchBucket", "The specified bucket does not exist.")
    p = req.params
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    key_marker, id_marker = p.get("key-marker", ""), p.get("upload-id-marker", "")
    limit = _int_param(req, "max-uploads", 1000, 1000)
    uploads: list[Upload] = []
    prefixes: list[str] = []
    truncated = False
    for upload in state.uploads.list(bucket, prefix, key_marker, id_marker):
        rolled = _rolled_up(upload.key, prefix, delimiter)
        if rolled is not None and prefixes and prefixes[-1] == rolled:
            continue
        if len(uploads) + len(prefixes) == limit:
            truncated = True
            break
        if rolled is not None:
            prefixes.append(rolled)
        else:
            uploads.append(upload)
    enc = (lambda text: quote(text, safe="/")) if url else (lambda text: text)
    out = [XML_HEAD, "<ListMultipartUploadsResult>", el("Bucket", bucket)]
    if url:
        out.append(el("Encoding-Type", "url"))
    out += [el("KeyMarker", enc(key_marker)), el("UploadIdMarker", id_marker), el("MaxUploads", limit),
            el("IsTruncated", "true" if truncated else "false"), el("Prefix", enc(prefix))]
    if delimiter:
        out.append(el("Delimiter", enc(delimiter)))
    if truncated and uploads:
        out += [el("NextKeyMarker", enc(uploads[-1].key)), el("NextUploadIdMarker", uploads[-1].upload_id)]
    out += ["<Upload>" + el("Key", enc(u.key)) + el("UploadId", u.upload_id) + el("StorageClass", "STANDARD")
            + "<Initiator>" + _OWNER + "</Initiator><Owner>" + _OWNER + "</Owner>"
            + el("Initiated", iso_time(u.created)) + "</Upload>" for u in uploads]
    out += ["<CommonPrefixes>" + el("Prefix", enc(c)) + "</CommonPrefixes>" for c in prefixes]
    out.append("</ListMultipartUploadsResult>")
    return Response(200, {}, "".join(out).encode())


def _rolled_up(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[:at + len(delimiter)]


