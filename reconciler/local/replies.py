"""XML bodies the local server sends: COS errors, bucket listings, multi-delete results, UploadResult.

Element names and shapes follow what cos-python-sdk-v5 parses (``xml_to_dict``): the SDK reads an error code
only from a body with Code, Message, Resource and RequestId, so COS-layer errors carry all of them; errors
raised by Cloud Infinite processing omit Resource, as the real CI documents (the SDK then reports 'Unknown'
and the caller reads the raw body).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape

from reconciler.local.store import ListPage, StoredObject

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class ProcessedResult:
    """One ProcessResults/Object entry."""

    key: str
    location: str
    format: str
    width: int
    height: int
    size: int
    quality: int
    etag: str


@functools.lru_cache(maxsize=4096)
def _iso_seconds(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def iso_time(stamp: float) -> str:
    return f"{_iso_seconds(int(stamp))}.{int(stamp * 1000) % 1000:03d}Z"


def _el(name: str, value: object) -> str:
    text = escape(str(value))
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>"


def error(code: str, message: str, request_id: str, trace_id: str, resource: str | None) -> bytes:
    parts = [_el("Code", code), _el("Message", message)]
    if resource is not None:
        parts.append(_el("Resource", resource))
    parts += [_el("RequestId", request_id), _el("TraceId", trace_id)]
    return (XML_HEAD + "<Error>" + "".join(parts) + "</Error>").encode()


def _enc(text: str, url: bool) -> str:
    return quote(text, safe="/") if url else text


def listing(bucket: str, page: ListPage, *, prefix: str, marker: str, delimiter: str, max_keys: int,
            url_encoding: bool) -> bytes:
    out = [XML_HEAD, "<ListBucketResult>", _el("Name", bucket)]
    if url_encoding:
        out.append(_el("EncodingType", "url"))
    out += [_el("Prefix", _enc(prefix, url_encoding)), _el("Marker", _enc(marker, url_encoding)),
            _el("MaxKeys", max_keys)]
    if delimiter:
        out.append(_el("Delimiter", _enc(delimiter, url_encoding)))
    out.append(_el("IsTruncated", "true" if page.truncated else "false"))
    if page.truncated:
        out.append(_el("NextMarker", _enc(page.next_marker, url_encoding)))
    for obj in page.objects:
        out.append("<Contents>" + _el("Key", _enc(obj.key, url_encoding)) + _el("LastModified", iso_time(obj.mtime))
                   + _el("ETag", obj.etag) + _el("Size", obj.size)
                   + "<Owner><ID>1250000000</ID><DisplayName>1250000000</DisplayName></Owner>"
                   + _el("StorageClass", "STANDARD") + "</Contents>")
    for common in page.prefixes:
        out.append("<CommonPrefixes>" + _el("Prefix", _enc(common, url_encoding)) + "</CommonPrefixes>")
    out.append("</ListBucketResult>")
    return "".join(out).encode()


def buckets(names: Iterable[tuple[str, float]], region: str) -> bytes:
    out = [XML_HEAD, "<ListAllMyBucketsResult><Owner><ID>qcs::cam::uin/1250000000:uin/1250000000</ID>"
           "<DisplayName>1250000000</DisplayName></Owner><Buckets>"]
    for name, created in names:
        out.append("<Bucket>" + _el("Name", name) + _el("Location", region) + _el("CreationDate", iso_time(created))
                   + "</Bucket>")
    out.append("</Buckets></ListAllMyBucketsResult>")
    return "".join(out).encode()


def delete_result(deleted: Sequence[str], failed: Sequence[tuple[str, str, str]], quiet: bool) -> bytes:
    out = [XML_HEAD, "<DeleteResult>"]
    if not quiet:
        out += ["<Deleted>" + _el("Key", key) + "</Deleted>" for key in deleted]
    out += ["<Error>" + _el("Key", key) + _el("Code", code) + _el("Message", msg) + "</Error>"
            for key, code, msg in failed]
    out.append("</DeleteResult>")
    return "".join(out).encode()


def upload_result(source: StoredObject, location: str, image_info: dict[str, object] | None,
                  results: Sequence[ProcessedResult]) -> bytes:
    out = [XML_HEAD, "<UploadResult><OriginalInfo>", _el("Key", source.key), _el("Location", location),
           _el("ETag", source.etag)]
    if image_info is not None:
        out.append("<ImageInfo>" + "".join(_el(k, v) for k, v in image_info.items()) + "</ImageInfo>")
    out.append("</OriginalInfo><ProcessResults>")
    for r in results:
        out.append("<Object>" + _el("Key", r.key) + _el("Location", r.location) + _el("Format", r.format)
                   + _el("Width", r.width) + _el("Height", r.height) + _el("Size", r.size)
                   + _el("Quality", r.quality) + _el("ETag", r.etag) + "</Object>")
    out.append("</ProcessResults></UploadResult>")
    return "".join(out).encode()


def copy_result(obj: StoredObject) -> bytes:
    return (XML_HEAD + "<CopyObjectResult>" + _el("ETag", obj.etag) + _el("LastModified", iso_time(obj.mtime))
            + "</CopyObjectResult>").encode()
