"""HTTP request handling for the local COS + CI server: routing, auth, and every operation's reply.

The bucket comes from the Host header up to ``.cos.`` (as cos-python-sdk-v5 sends it with ``IP=``/``Port=``);
the key is the URL-decoded path. Replies always carry ``x-cos-request-id``; errors are COS XML ``<Error>``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote_to_bytes

from reconciler.local import operations, replies
from reconciler.local.auth import AUTH_FIELDS, AuthFailure, request_headers, verify
from reconciler.local.protocol import MAX_BODY, CosError, Request, valid_bucket_name

if TYPE_CHECKING:
    from reconciler.local.server import ServerState

class Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: avoid 40 ms delayed-ACK stalls
    server_version = "tencent-cos"
    sys_version = ""
    state: ServerState  # set on the subclass the server creates

    def version_string(self) -> str:
        return "tencent-cos"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return  # quiet: the server never prints; counts are in /-/stats

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.state.store.close_thread()  # one thread per connection: don't keep its SQLite connection

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        self._request_id = base64.b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self._req: Request | None = None
        try:
            req = self._parse(method)
            self._req = req
            if req.bucket is None and req.key == "-/stats" and method == "GET":
                self.send(200, json.dumps(self.state.stats.snapshot()).encode(), "application/json")
                return
            self.state.stats.count_request()
            self._authenticate(req)
            self._route(req)
            self._drain()
        except CosError as exc:
            self._fail(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a server answers 500, never drops the connection silently
            self._fail(CosError("InternalError", f"internal error: {type(exc).__name__}"))

    def _parse(self, method: str) -> Request:
        raw_path, _, raw_query = self.path.partition("?")
        try:  # one Host only, and it is the one signed and the one the bucket is read from
            headers = request_headers(self.headers.items())
        except AuthFailure as exc:
            raise CosError(exc.code, exc.message) from None
        host = headers.get("host", "").strip().lower()
        if raw_path.startswith(("http://", "https://")):  # absolute form: its authority must be the Host
            if raw_path.split("/", 3)[2].lower() != host:
                raise CosError("InvalidArgument", "The request target's host is not the Host header.")
            raw_path = "/" + raw_path.split("/", 3)[-1] if raw_path.count("/") >= 3 else "/"
        try:
            key = unquote_to_bytes(raw_path.lstrip("/")).decode("utf-8")
            query = parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise CosError("InvalidURI", "The request URI is not valid UTF-8.") from None
        if "\x00" in key:
            raise CosError("InvalidURI", "Object keys may not contain NUL.")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        bucket: str | None = None
        region = "ap-local"
        if ".cos." in hostname and not hostname.startswith("service.cos."):
            bucket, _, rest = hostname.partition(".cos.")
            region = rest.split(".myqcloud.com")[0] or region
            if not valid_bucket_name(bucket):
                raise CosError("InvalidBucketName", "The bucket name in the Host header is not valid.")
        return Request(method, bucket, region, host, key, query, headers,
                       params={k: v for k, v in query if k.lower() not in AUTH_FIELDS})

    def _authenticate(self, req: Request) -> None:
        try:
            verify(self.state.credentials, req.method, "/" + req.key, req.query, req.headers, time.time())
        except AuthFailure as exc:
            raise CosError(exc.code, exc.message) from None

    def content_length(self) -> int:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise CosError("InvalidArgument", "Content-Length is not a number.") from None
        if length < 0 or length > MAX_BODY:
            raise CosError("EntityTooLarge", "The body is larger than 5 GB.")
        return length

    def read_body(self) -> bytes:
        assert self._req is not None
        length = self.content_length()
        self._req.body_read = True
        return self.rfile.read(length) if length else b""

    def send(self, status: int, body: bytes = b"", content_type: str = "application/xml",
              headers: dict[str, str] | None = None, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("x-cos-request-id", self._request_id)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _drain(self) -> None:
        """Consume a body the operation did not read, so the next request on this connection parses."""
        req = self._req
        if req is None:
            self.close_connection = True
            return
        if req.body_read or "content-length" not in req.headers:
            if "content-length" not in req.headers and "transfer-encoding" in req.headers:
                self.close_connection = True  # chunked bodies are not supported: do not reuse the connection
            return
        req.body_read = True
        try:
            length = self.content_length()
        except CosError:
            length = -1
        if 0 <= length <= 64 * 1024 * 1024:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _fail(self, exc: CosError) -> None:
        req = self._req
        self.state.stats.count_error(exc.code)
        self._drain()
        resource = None
        if not exc.ci:
            resource = (req.host if req else "") + "/" + (req.key if req else "")
        body = replies.error(exc.code, exc.message, self._request_id, self._request_id, resource)
        self.send(exc.status, b"" if self.command == "HEAD" else body)

    # -- routing ----------------------------------------------------------------------------------------------
    def _route(self, req: Request) -> None:
        operations.route(self, req)
