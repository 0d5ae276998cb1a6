"""``CosStorage``: the ``Storage`` interface over cos-python-sdk-v5 — the only module that imports ``qcloud_cos``.

It configures the SDK (endpoint, credentials, connection pool, no built-in retry: the executor paces and
retries), and translates every SDK failure into ``errors.StorageError`` / ``errors.NotFound`` keeping the HTTP
status, the COS error code and the request id. Messages never contain credentials; a transport failure reads
as one line (``cannot connect to HOST:PORT (connection refused)``).

Listing sends each GET bucket page through the SDK's own request path (``conf.uri``, ``CosS3Auth`` signing,
``send_request``: session, Host header, token, error replies), exactly as ``CosS3Client.list_objects`` does, but
parses the page with ElementTree: the SDK's ``xml_to_dict`` (str() + eval() of every page) made listing CPU-bound.
SDKs lacking that path fall back to ``client.list_objects``.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosClientError, CosServiceError

try:  # the SDK's own request path for GET bucket (same in 1.9.30 and 1.9.44; guarded all the same)
    from qcloud_cos.cos_auth import CosS3Auth
    from qcloud_cos.cos_comm import format_values
except ImportError:  # pragma: no cover - the fallback this leads to is tested by forcing it
    CosS3Auth = None
    format_values = None

from reconciler.declare.ci_errors import classify
from reconciler.errors import NotFound, StorageError, UsageError
from reconciler.model import ObjectInfo
from reconciler.storage import ProcessedObject, ProcessResult

T = TypeVar("T")

ENV_SECRET_ID = "TENCENTCLOUD_SECRET_ID"
ENV_SECRET_KEY = "TENCENTCLOUD_SECRET_KEY"
ENV_TOKEN = "TENCENTCLOUD_SECURITY_TOKEN"

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchResource", "NoSuchBucket", "ResourceNotFound"})
_SECRETISH = re.compile(r"(q-ak=|q-signature=|x-cos-security-token[=:]\s*)[^&;\s'\"]+", re.IGNORECASE)


def _scrub(text: str) -> str:
    """Drop anything that looks like a signature, key id or token from an SDK message."""
    return _SECRETISH.sub(r"\1***", text)[:500]


def _parse_error_body(raw: str) -> dict[str, str]:
    """Code/Message/RequestId of an XML error body the SDK could not digest (CI omits Resource)."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return {}
    found: dict[str, str] = {}
    for name in ("Code", "Message", "RequestId"):
        element = root.find(name)
        if element is not None and element.text:
            found[name] = element.text
    return found


def translate(error: Exception, *, bucket: str, key: str = "", action: str = "") -> StorageError:
    """An SDK exception as our ``StorageError`` (``NotFound`` for 404)."""
    if isinstance(error, CosServiceError):
        status = int(error.get_status_code() or 0)
        code, message, request_id = error.get_error_code(), error.get_error_msg(), error.get_request_id()
        if code == "Unknown":
            parsed = _parse_error_body(str(error.get_origin_msg() or ""))
            code = parsed.get("Code", "") or ("NoSuchResource" if status == 404 else f"HTTP{status}")
            message = parsed.get("Message", "") or f"HTTP {status}"
            request_id = parsed.get("RequestId", "") if request_id == "Unknown" else request_id
        if request_id == "Unknown":
            request_id = ""
        # what to retry is decided by the one classification (throttling as 503 SlowDown, 429 or CI's -60949;
        # 5xx other than 501), never by message text
        retryable = classify(status, str(code)).retry
        cls = NotFound if status == 404 or code in NOT_FOUND_CODES else StorageError
        text = f"{action} failed: {message}" if action else str(message)
        return cls(_scrub(text), bucket=bucket, key=key, status=status, code=str(code),
                   request_id=str(request_id), retryable=retryable)
    raw = str(error)
    text = connection_message(raw) if _is_transport_text(raw) else _scrub(raw) or type(error).__name__
    bad_argument = "No Parameter Named" in text
    return StorageError(f"{action} failed: {text}" if action else text, bucket=bucket, key=key,
                        code="ClientError" if bad_argument else "ConnectionError", retryable=not bad_argument)


_CONN_WHERE = re.compile(r"host='([^']*)', port=(\d+)")
_CONN_REASONS = (
    ("connection refused", ("Connection refused", "Errno 111", "Errno 61", "WinError 10061")),
    ("host name not found", ("Name or service not known", "nodename nor servname", "Temporary failure in name",
                             "getaddrinfo failed", "No address associated")),
    ("timed out", ("timed out", "Timeout")),
    ("connection reset", ("Connection reset", "Errno 104", "Connection aborted", "RemoteDisconnected")),
    ("network unreachable", ("Network is unreachable", "No route to host")),
    ("TLS error", ("SSLError", "SSL:", "CERTIFICATE_VERIFY_FAILED")),
)


def connection_message(text: str) -> str:
    """One clear line for a transport failure (requests/urllib3 text, possibly wrapped by the SDK):
    ``cannot connect to 127.0.0.1:9312 (connection refused)`` instead of urllib3's retry-pool prose."""
    reason = next((name for name, marks in _CONN_REASONS if any(m in text for m in marks)), "")
    where = _CONN_WHERE.search(text)
    host = f"{where.group(1)}:{where.group(2)}" if where else ""
    if "Read timed out" in text:
        return f"no reply from {host or 'the server'} in time (read timed out)"
    if reason == "connection reset" and "Max retries" not in text:
        return f"connection to {host or 'the server'} lost (connection reset)"
    if host:
        return f"cannot connect to {host} ({reason or 'network error'})"
    if reason:
        return f"network error ({reason})"
    return _scrub(text).splitlines()[0][:200] if text.strip() else "network error"


def _is_transport_text(text: str) -> bool:
    return any(mark in text for mark in ("HTTPConnectionPool", "HTTPSConnectionPool", "Max retries exceeded",
                                         "Connection aborted", "Read timed out", "NewConnectionError"))


def _strip_etag(etag: Any) -> str:
    return str(etag or "").strip('"')


class CosStorage:
    """``reconciler.storage.Storage`` over the official SDK. Thread-safe: one client, one sized pool."""

    def __init__(
        self,
        *,
        region: str,
        endpoint: str | None = None,
        secret_id: str | None = None,
        secret_key: str | None = None,
        token: str | None = None,
        pool_size: int = 32,
        timeout: float = 30,
    ) -> None:
        secret_id = secret_id or os.environ.get(ENV_SECRET_ID)
        secret_key = secret_key or os.environ.get(ENV_SECRET_KEY)
        token = token or os.environ.get(ENV_TOKEN) or None
        if not secret_id or not secret_key:
            raise UsageError(
                f"no COS credentials: set {ENV_SECRET_ID} and {ENV_SECRET_KEY} (or use --local for the embedded server)"
            )
        self.region = region
        self.endpoint = endpoint
        options: dict[str, Any] = {
            "Region": region, "SecretId": secret_id, "SecretKey": secret_key, "Token": token,
            "Timeout": max(1, int(timeout)), "PoolConnections": pool_size, "PoolMaxSize": pool_size,
        }
        if endpoint:
            parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
            if not parts.hostname:
                raise UsageError(f"--endpoint {endpoint!r}: expected a URL such as http://127.0.0.1:9000")
            options["Scheme"] = parts.scheme or "http"
            options["IP"] = parts.hostname
            options["Port"] = parts.port or (443 if parts.scheme == "https" else 80)
        else:
            options["Scheme"] = "https"
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._client = CosS3Client(CosConfig(**options), retry=0, session=session)
        self._fast_listing = fast_listing_supported(self._client)

    def _call(self, action: str, bucket: str, key: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (CosServiceError, CosClientError) as error:
            raise translate(error, bucket=bucket, key=key, action=action) from None
        except (requests.RequestException, ET.ParseError, OSError) as error:
            text = connection_message(str(error)) if not isinstance(error, ET.ParseError) else _scrub(str(error))
            raise StorageError(f"{action} failed: {text}", bucket=bucket, key=key,
                               code="ConnectionError", retryable=True) from None

    # --- Storage -------------------------------------------------------------------------------------

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        fast = self._fast_listing
        marker = start_after
        while True:
            page = self._call("list", bucket, prefix,
                              (lambda: self._list_page(bucket, prefix, marker)) if fast
                              else (lambda: _sdk_page(self._client, bucket, prefix, marker)))
            yield from page.objects
            if not page.truncated:
                return
            marker = page.next_marker or (page.objects[-1].key if page.objects else "")
            if not marker:
                return

    def list_level(self, bucket: str, prefix: str) -> tuple[list[ObjectInfo], list[str]]:
        """One level under ``prefix`` (delimiter ``/``): its objects and common prefixes, every page of them."""
        objects: list[ObjectInfo] = []
        folders: list[str] = []
        marker = ""
        while True:
            page = self._call("list", bucket, prefix, lambda: self._list_page(bucket, prefix, marker, "/")
                              if self._fast_listing else _sdk_page(self._client, bucket, prefix, marker, "/"))
            objects += page.objects
            folders += page.folders
            if not page.truncated:
                return objects, folders
            marker = page.next_marker
            if not marker:
                return objects, folders

    def _list_page(self, bucket: str, prefix: str, marker: str, delimiter: str = "") -> _Page:
        """One GET bucket page through the SDK's own request path (config, URL, CosS3Auth signing, session,
        retries, error replies -> CosServiceError) exactly as ``CosS3Client.list_objects`` sends it, parsed with
        ElementTree instead of the SDK's xml_to_dict (which round-trips every page through str() and eval())."""
        conf = self._client._conf
        params = format_values({"prefix": prefix, "delimiter": delimiter, "marker": marker, "max-keys": 1000,
                                "encoding-type": "url"})
        reply = self._client.send_request(method="GET", url=conf.uri(bucket=bucket), bucket=bucket, params=params,
                                          headers={}, auth=CosS3Auth(conf, params=params))
        return parse_list_page(reply.content)

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            headers: dict[str, Any] = self._call("HEAD", bucket, key,
                                                 lambda: self._client.head_object(Bucket=bucket, Key=key))
        except NotFound:
            return None
        return ObjectInfo(key=key, etag=_strip_etag(headers.get("ETag")),
                          size=int(headers.get("Content-Length") or 0),
                          last_modified=str(headers.get("Last-Modified") or ""))

    def get_object(self, bucket: str, key: str) -> bytes:
        def fetch() -> bytes:
            response = self._client.get_object(Bucket=bucket, Key=key)
            return bytes(response["Body"].get_raw_stream().read())

        return self._call("GET", bucket, key, fetch)

    def put_object(self, bucket: str, key: str, body: bytes, *, forbid_overwrite: bool = False,
                   content_type: str = "application/octet-stream") -> str:
        extra: dict[str, Any] = {"ContentType": content_type}
        if forbid_overwrite:
            extra["Metadata"] = {"x-cos-forbid-overwrite": "true"}
        headers: dict[str, Any] = self._call(
            "PUT", bucket, key, lambda: self._client.put_object(Bucket=bucket, Key=key, Body=body, **extra))
        return _strip_etag(headers.get("ETag"))

    def delete_object(self, bucket: str, key: str) -> None:
        self._call("DELETE", bucket, key, lambda: self._client.delete_object(Bucket=bucket, Key=key))

    def delete_objects(self, bucket: str, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == 1000:
                self._delete_batch(bucket, batch)
                batch = []
        if batch:
            self._delete_batch(bucket, batch)

    def _delete_batch(self, bucket: str, keys: list[str]) -> None:
        request = {"Quiet": "true", "Object": [{"Key": k} for k in keys]}
        reply: dict[str, Any] = self._call(
            "multi-delete", bucket, "", lambda: self._client.delete_objects(Bucket=bucket, Delete=request))
        errors = [e for e in (reply.get("Error") or []) if e.get("Code") not in NOT_FOUND_CODES]
        if errors:
            first = errors[0]
            raise StorageError(f"delete failed for {len(errors)} key(s): {first.get('Message', '')}",
                               bucket=bucket, key=str(first.get("Key", "")), code=str(first.get("Code", "")))

    def process(self, bucket: str, key: str, pic_operations: str) -> ProcessResult:
        reply: tuple[dict[str, Any], dict[str, Any]] = self._call(
            "image_process", bucket, key,
            lambda: self._client.ci_image_process(Bucket=bucket, Key=key, PicOperations=pic_operations))
        return _process_result(*reply)

    def upload_file(self, bucket: str, key: str, path: Path, part_mb: int) -> str:
        """The SDK's ``upload_file``: one PUT up to ``part_mb`` MB, else a multipart upload (4 parts at once)."""
        reply: dict[str, Any] = self._call(
            "upload", bucket, key,
            lambda: self._client.upload_file(Bucket=bucket, Key=key, LocalFilePath=str(path), PartSize=part_mb,
                                             MAXThread=4))
        return _strip_etag(reply.get("ETag"))

    def put_processed(self, bucket: str, key: str, body: bytes, pic_operations: str, *,
                      content_type: str = "application/octet-stream") -> ProcessResult:
        """``ci_put_object``: unlike ``put_object(PicOperations=)`` it returns the UploadResult (cos-notes)."""
        reply: tuple[dict[str, Any], dict[str, Any]] = self._call(
            "PUT with Pic-Operations", bucket, key,
            lambda: self._client.ci_put_object(Bucket=bucket, Key=key, Body=body, PicOperations=pic_operations,
                                               ContentType=content_type))
        return _process_result(*reply)

    def image_styles(self, bucket: str) -> dict[str, str]:
        """``ci_get_image_style`` without a name: every style of the bucket (``GET /?style`` on its pic host)."""
        reply: tuple[dict[str, Any], dict[str, Any] | None] = self._call(
            "get image styles", bucket, "", lambda: self._client.ci_get_image_style(Bucket=bucket, Request={}))
        rules = (reply[1] or {}).get("StyleRule") or []
        if isinstance(rules, dict):
            rules = [rules]
        return {str(r.get("StyleName") or ""): str(r.get("StyleBody") or "")
                for r in rules if isinstance(r, dict) and r.get("StyleName")}

    def process_download(self, bucket: str, key: str, rule: str) -> bytes:
        """``GET /<key>?<rule>`` (processing during download). An AI rule (``ci-process=Name&k=v``) goes through the
        SDK's ``ci_process``, any other through ``ci_get_object``, which writes to a file (read back and removed)."""
        if rule.startswith("ci-process="):
            name, _, rest = rule[len("ci-process="):].partition("&")
            params = dict(part.partition("=")[::2] for part in rest.split("&") if part)
            body = self._call("ci_process", bucket, key, lambda: self._client.ci_process(
                Bucket=bucket, Key=key, CiProcess=name, Params=params))
            if not isinstance(body, bytes):
                raise StorageError("processing during download returned no image", bucket=bucket, key=key)
            return body
        with tempfile.TemporaryDirectory(prefix="cosrecon-preview-") as folder:
            path = os.path.join(folder, "image")
            self._call("ci_get_object", bucket, key, lambda: self._client.ci_get_object(
                Bucket=bucket, Key=key, DestImagePath=path, Rule=rule))
            with open(path, "rb") as handle:
                return handle.read()


@dataclass(frozen=True)
class _Page:
    """One page of GET bucket: its objects (keys URL-decoded), whether more follow, and the NextMarker."""

    objects: list[ObjectInfo]
    truncated: bool
    next_marker: str
    folders: list[str] = field(default_factory=list)  # CommonPrefixes, URL-decoded (a delimiter listing)


def _process_result(headers: dict[str, Any], body: dict[str, Any] | None) -> ProcessResult:
    """The outputs of an UploadResult reply (``ProcessResults/Object``: a dict for one rule, a list for several)."""
    results = (body or {}).get("ProcessResults") or {}
    objects = results.get("Object") if isinstance(results, dict) else None
    if isinstance(objects, dict):
        objects = [objects]
    processed = tuple(
        ProcessedObject(key=str(o.get("Key") or ""), etag=_strip_etag(o.get("ETag")),
                        size=_int(o.get("Size")), format=str(o.get("Format") or ""),
                        width=_int(o.get("Width")), height=_int(o.get("Height")))
        for o in (objects or []) if isinstance(o, dict)
    )
    return ProcessResult(objects=processed, request_id=str(headers.get("x-cos-request-id", "")))


def fast_listing_supported(client: Any) -> bool:
    """Whether this SDK exposes what ``_list_page`` reuses (``send_request``, ``_conf.uri``, ``CosS3Auth``,
    ``format_values``); if not, listing falls back to ``client.list_objects``."""
    conf = getattr(client, "_conf", None)
    return (CosS3Auth is not None and format_values is not None and callable(getattr(client, "send_request", None))
            and callable(getattr(conf, "uri", None)))


def parse_list_page(content: bytes) -> _Page:
    """A ListBucketResult (requested with encoding-type=url) as a ``_Page``: the same values the SDK's
    ``list_objects`` returns — keys and NextMarker URL-decoded, ETags without quotes — any XML namespace ignored."""
    root = ET.fromstring(content)
    tag = root.tag
    ns = tag[: tag.index("}") + 1] if tag.startswith("{") else ""
    k_key, k_etag, k_size, k_mtime = ns + "Key", ns + "ETag", ns + "Size", ns + "LastModified"
    objects: list[ObjectInfo] = []
    append = objects.append
    for item in root.iterfind(ns + "Contents"):
        key = item.findtext(k_key) or ""
        append(ObjectInfo(key=unquote(key) if key else key, etag=(item.findtext(k_etag) or "").strip('"'),
                          size=int(item.findtext(k_size) or 0), last_modified=item.findtext(k_mtime) or ""))
    next_marker = root.findtext(ns + "NextMarker") or ""
    truncated = (root.findtext(ns + "IsTruncated") or "false").strip().lower() == "true"
    folders = [unquote(p) for p in (c.findtext(ns + "Prefix") or "" for c in root.iterfind(ns + "CommonPrefixes")) if p]
    return _Page(objects, truncated, unquote(next_marker) if next_marker else "", folders)


def _sdk_page(client: Any, bucket: str, prefix: str, marker: str, delimiter: str = "") -> _Page:
    """One page through the SDK's public ``list_objects`` (the fallback path)."""
    page: dict[str, Any] = client.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=1000,
                                               Delimiter=delimiter)
    objects = [ObjectInfo(key=item["Key"], etag=_strip_etag(item.get("ETag")), size=int(item.get("Size") or 0),
                          last_modified=str(item.get("LastModified") or ""))
               for item in page.get("Contents") or []]
    folders = [str(p["Prefix"]) for p in page.get("CommonPrefixes") or [] if p.get("Prefix")]
    return _Page(objects, str(page.get("IsTruncated", "false")).lower() == "true", str(page.get("NextMarker") or ""),
                 folders)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
