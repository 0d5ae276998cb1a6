"""XML bodies the local server sends: COS errors, bucket listings, multi-delete results, UploadResult.

Element names and shapes follow what cos-python-sdk-v5 parses (``xml_to_dict``): the SDK reads an error code
only from a body with Code, Message, Resource and RequestId, so COS-layer errors carry all of them; errors
raised by Cloud Infinite processing omit Resource, as the real CI documents (the SDK then reports 'Unknown'
and the caller reads the raw body).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape

from reconciler.local.write_options import storage_class
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


def el(name: str, value: object) -> str:
    text = escape(str(value))
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>"


# Characters XML 1.0 cannot carry (a key may contain them): percent-encoded in an error body, which must parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: quote(m.group().encode("utf-8", "surrogatepass")), text)


def error(code: str, message: str, request_id: str, trace_id: str, resource: str | None) -> bytes:
    parts = [el("Code", code), el("Message", _xml_safe(message))]
    if resource is not None:
        parts.append(el("Resource", _xml_safe(resource)))
    parts += [el("RequestId", request_id), el("TraceId", trace_id)]
    return (XML_HEAD + "<Error>" + "".join(parts) + "</Error>").encode()


def _enc(text: str, url: bool) -> str:
    return quote(text, safe="/") if url else text


def listing(bucket: str, page: ListPage, *, prefix: str, marker: str, delimiter: str, max_keys: int,
            url_encoding: bool) -> bytes:
    out = [XML_HEAD, "<ListBucketResult>", el("Name", bucket)]
    if url_encoding:
        out.append(el("EncodingType", "url"))
    out += [el("Prefix", _enc(prefix, url_encoding)), el("Marker", _enc(marker, url_encoding)),
            el("MaxKeys", max_keys)]
    if delimiter:
        out.append(el("Delimiter", _enc(delimiter, url_encoding)))
    out.append(el("IsTruncated", "true" if page.truncated else "false"))
    if page.truncated:
        out.append(el("NextMarker", _enc(page.next_marker, url_encoding)))
    for obj in page.objects:
        out.append("<Contents>" + el("Key", _enc(obj.key, url_encoding)) + el("LastModified", iso_time(obj.mtime))
                   + el("ETag", obj.etag) + el("Size", obj.size)
                   + "<Owner><ID>1250000000</ID><DisplayName>1250000000</DisplayName></Owner>"
                   + el("StorageClass", storage_class(obj.meta)) + "</Contents>")
    for common in page.prefixes:
        out.append("<CommonPrefixes>" + el("Prefix", _enc(common, url_encoding)) + "</CommonPrefixes>")
    out.append("</ListBucketResult>")
    return "".join(out).encode()


def buckets(names: Iterable[tuple[str, float]], region: str) -> bytes:
    out = [XML_HEAD, "<ListAllMyBucketsResult><Owner><ID>qcs::cam::uin/1250000000:uin/1250000000</ID>"
           "<DisplayName>1250000000</DisplayName></Owner><Buckets>"]
    for name, created in names:
        out.append("<Bucket>" + el("Name", name) + el("Location", region) + el("CreationDate", iso_time(created))
                   + "</Bucket>")
    out.append("</Buckets></ListAllMyBucketsResult>")
    return "".join(out).encode()


def delete_result(deleted: Sequence[str], failed: Sequence[tuple[str, str, str]], quiet: bool) -> bytes:
    out = [XML_HEAD, "<DeleteResult>"]
    if not quiet:
        out += ["<Deleted>" + el("Key", key) + "</Deleted>" for key in deleted]
    out += ["<Error>" + el("Key", key) + el("Code", code) + el("Message", msg) + "</Error>"
            for key, code, msg in failed]
    out.append("</DeleteResult>")
    return "".join(out).encode()


def upload_result(source: StoredObject, location: str, image_info: dict[str, object] | None,
                  results: Sequence[ProcessedResult]) -> bytes:
    out = [XML_HEAD, "<UploadResult><OriginalInfo>", el("Key", source.key), el("Location", location),
           el("ETag", source.etag)]
    if image_info is not None:
        out.append("<ImageInfo>" + "".join(el(k, v) for k, v in image_info.items()) + "</ImageInfo>")
    out.append("</OriginalInfo><ProcessResults>")
    for r in results:
        out.append("<Object>" + el("Key", r.key) + el("Location", r.location) + el("Format", r.format)
                   + el("Width", r.width) + el("Height", r.height) + el("Size", r.size)
                   + el("Quality", r.quality) + el("ETag", r.etag) + "</Object>")
    out.append("</ProcessResults></UploadResult>")
    return "".join(out).encode()


def copy_result(obj: StoredObject) -> bytes:
    return (XML_HEAD + "<CopyObjectResult>" + el("ETag", obj.etag) + el("LastModified", iso_time(obj.mtime))
            + "</CopyObjectResult>").encode()
