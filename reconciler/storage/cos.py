"""``CosStorage``: the ``Storage`` interface over cos-python-sdk-v5 — the only module that imports ``qcloud_cos``.

It configures the SDK (endpoint, credentials, connection pool, no built-in retry: the executor paces and
retries), and translates every SDK failure into ``errors.StorageError`` / ``errors.NotFound`` keeping the HTTP
status, the COS error code and the request id. Messages never contain credentials.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosClientError, CosServiceError

from reconciler.errors import NotFound, StorageError, UsageError
from reconciler.model import ObjectInfo
from reconciler.storage import ProcessedObject, ProcessResult

T = TypeVar("T")

ENV_SECRET_ID = "TENCENTCLOUD_SECRET_ID"
ENV_SECRET_KEY = "TENCENTCLOUD_SECRET_KEY"
ENV_TOKEN = "TENCENTCLOUD_SECURITY_TOKEN"

RETRYABLE_CODES = frozenset({"SlowDown", "RequestLimitExceeded", "ServiceUnavailable", "InternalError",
                             "RequestTimeout", "TooManyRequests"})
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
        retryable = status >= 500 or status == 429 or code in RETRYABLE_CODES
        cls = NotFound if status == 404 or code in NOT_FOUND_CODES else StorageError
        text = f"{action} failed: {message}" if action else str(message)
        return cls(_scrub(text), bucket=bucket, key=key, status=status, code=str(code),
                   request_id=str(request_id), retryable=retryable)
    text = _scrub(str(error)) or type(error).__name__
    bad_argument = "No Parameter Named" in text
    return StorageError(f"{action} failed: {text}" if action else text, bucket=bucket, key=key,
                        code="ClientError" if bad_argument else "ConnectionError", retryable=not bad_argument)


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

    def _call(self, action: str, bucket: str, key: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (CosServiceError, CosClientError) as error:
            raise translate(error, bucket=bucket, key=key, action=action) from None
        except (requests.RequestException, ET.ParseError, OSError) as error:
            raise StorageError(f"{action} failed: {_scrub(str(error))}", bucket=bucket, key=key,
                               code="ConnectionError", retryable=True) from None

    # --- Storage -------------------------------------------------------------------------------------

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        marker = start_after
        while True:
            page: dict[str, Any] = self._call(
                "list", bucket, prefix,
                lambda: self._client.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=1000),
            )
            contents = page.get("Contents") or []
            for item in contents:
                yield ObjectInfo(key=item["Key"], etag=_strip_etag(item.get("ETag")),
                                 size=int(item.get("Size") or 0), last_modified=str(item.get("LastModified") or ""))
            if str(page.get("IsTruncated", "false")).lower() != "true":
                return
            marker = page.get("NextMarker") or (contents[-1]["Key"] if contents else "")
            if not marker:
                return

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
        headers, body = reply
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


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
