"""The HTTP side of the local COS + CI server: parse a request, check its signature, hand it to ``routing`` and
write the ``Response`` it returns. The only module of the server that reads or writes the socket (with the
helpers of ``connection``: a deadline per phase, bounded draining, a lingering close; and the server's
connection cap). An unauthenticated request's body is never read.

The bucket comes from the Host header up to ``.cos.`` (as cos-python-sdk-v5 sends it with ``IP=``/``Port=``);
the key is the URL-decoded path. Replies always carry ``x-cos-request-id``; errors are COS XML ``<Error>``.
"""

from __future__ import annotations

import base64
import io
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, unquote_to_bytes

from reconciler.local import replies, routing
from reconciler.local.auth import AUTH_FIELDS, AuthFailure, request_headers, verify
from reconciler.local.ci_service import parse_ci_host
from reconciler.local.connection import ConnectionLimits, DeadlineReader, discard, linger
from reconciler.local.context import ServerState
from reconciler.local.protocol import MAX_BODY, CosError, Request, RequestBody, Response, valid_bucket_name
from reconciler.local.shedding import ConnectionTable

_CHUNK_LINE_LIMIT = 4096


class Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: avoid 40 ms delayed-ACK stalls
    server_version = "tencent-cos"
    sys_version = ""
    state: ServerState  # set on the subclass the server creates
    limits: ConnectionLimits = ConnectionLimits()  # likewise
    connections: ConnectionTable | None = None  # likewise: which connections may be shed when it fills

    # -- connection limits (connection.py): a deadline per phase, no unauthenticated body read ------------
    def setup(self) -> None:
        super().setup()
        self._deadline = time.monotonic() + self.limits.header_seconds
        self._chunked_from: tuple[float, int] | None = None
        self._linger = False
        self._raw = DeadlineReader(self.connection, self.limits.read_timeout, self._current_deadline)
        self.rfile = io.BufferedReader(self._raw)

    def handle_one_request(self) -> None:
        self._deadline = time.monotonic() + self.limits.header_seconds  # request line + headers (+ idle)
        self._chunked_from = None
        super().handle_one_request()

    def _current_deadline(self) -> float:
        if self._chunked_from is None:
            return self._deadline
        start, received = self._chunked_from  # a chunked body: a minimum average rate since it began
        return start + self.limits.body_seconds(self._raw.received - received)

    def _start_body(self, body: RequestBody) -> None:
        if body.chunked:
            self._chunked_from = (time.monotonic(), self._raw.received)
        else:
            self._deadline = time.monotonic() + self.limits.body_seconds(body.length or 0)

    def version_string(self) -> str:
        return getattr(self, "_server_name", "tencent-cos")  # CI replies say tencent-ci (Response's Server)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return  # quiet: the server never prints; counts are in /-/stats

    def finish(self) -> None:
        try:
            if self._linger:
                self.wfile.flush()
                linger(self.connection, self.limits)
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
        if self.connections is not None:
            self.connections.busy(self.connection, True)
        try:
            self._serve(method)
        finally:
            if self.connections is not None:
                self.connections.busy(self.connection, False)

    def _serve(self, method: str) -> None:
        request_id = base64.b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        req: Request | None = None
        authenticated = False
        try:
            req = self._parse(method, request_id)
            if routing.is_stats(req):
                response = routing.stats(self.state)
            else:
                self.state.stats.count_request()
                self._authenticate(req)
                authenticated = True
                if self.connections is not None:  # never shed from now on
                    self.connections.busy(self.connection, True, authenticated=True)
                self._start_body(req.body)
                response = routing.route(self.state, req)
        except CosError as exc:
            if req is not None and req.body.chunked and req.body.consumed:
                self.close_connection = True  # an error while reading a chunked body: where it ends is unknown
                self._linger = True  # ... and the client may still be sending it: let it read the reply
            response = routing.error_response(self.state, exc, req, request_id)
        except TimeoutError:  # too slow a client: answer if we can, and close
            self.close_connection = True
            response = routing.error_response(self.state, CosError(
                "RequestTimeout", "The request was not completed within the time allowed."), req, request_id)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except Exception as exc:  # noqa: BLE001 - a server answers 500, never drops the connection silently
            error = CosError("InternalError", f"internal error: {type(exc).__name__}")
            response = routing.error_response(self.state, error, req, request_id)
        try:
            self._drain(req, authenticated)
            self.connection.settimeout(self.limits.read_timeout)
            self._write(response, request_id)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _parse(self, method: str, request_id: str) -> Request:
        # The request line's own target: http.server collapses a leading '//' in self.path, but a key may
        # begin with '/' (the SDK sends '//lead.txt' for key '/lead.txt' and signs that path).
        words = self.requestline.split()
        target = words[1] if len(words) == 3 else self.path
        raw_path, _, raw_query = target.partition("?")
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
            key = unquote_to_bytes(raw_path.removeprefix("/")).decode("utf-8")
            query = parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise CosError("InvalidURI", "The request URI is not valid UTF-8.") from None
        if "\x00" in key:
            raise CosError("InvalidURI", "Object keys may not contain NUL.")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        bucket: str | None = None
        region = "ap-local"
        marker = ".pic." if ".pic." in hostname else ".cos."  # <bucket>.pic.<region>: the CI style API's host
        ci_host = parse_ci_host(hostname)  # <bucket>.ci.<region>, <appid>.ci.<region>, ci.<region>: CI's APIs
        if ci_host is not None:
            return Request(method, ci_host.bucket, ci_host.region, host, key, query, headers,
                           params={k: v for k, v in query if k.lower() not in AUTH_FIELDS},
                           body=self._body(headers), request_id=request_id, service="ci")
        if marker in hostname and not hostname.startswith("service.cos."):
            bucket, _, rest = hostname.partition(marker)
            region = rest.split(".myqcloud.com")[0] or region
            if not valid_bucket_name(bucket):
                raise CosError("InvalidBucketName", "The bucket name in the Host header is not valid.")
        return Request(method, bucket, region, host, key, query, headers,
                       params={k: v for k, v in query if k.lower() not in AUTH_FIELDS},
                       body=self._body(headers), request_id=request_id)

    def _authenticate(self, req: Request) -> None:
        try:
            verify(self.state.credentials, req.method, "/" + req.key, req.query, req.headers, time.time())
        except AuthFailure as exc:
            raise CosError(exc.code, exc.message) from None

    def _body(self, headers: dict[str, str]) -> RequestBody:
        if "content-length" in headers and "transfer-encoding" in headers:  # RFC 9112 6.3: ambiguous framing
            raise CosError("InvalidArgument", "A request may not carry both Content-Length and Transfer-Encoding.")
        length = self._content_length(headers)
        chunked = length is None and headers.get("transfer-encoding", "").strip().lower() == "chunked"
        return RequestBody(self.rfile, length, self._chunk_line if chunked else None)

    def _chunk_line(self) -> bytes:
        line = self.rfile.readline(_CHUNK_LINE_LIMIT + 1)
        if not line or len(line) > _CHUNK_LINE_LIMIT:
            raise ConnectionResetError("a chunked body ended early or has an overlong line")
        return line

    @staticmethod
    def _content_length(headers: dict[str, str]) -> int | None:
        if "content-length" not in headers:
            return None
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise CosError("InvalidArgument", "Content-Length is not a number.") from None
        if length < 0 or length > MAX_BODY:
            raise CosError("EntityTooLarge", "The body is larger than 5 GB.")
        return length

    def _drain(self, req: Request | None, authenticated: bool) -> None:
        """Discard a body the operation did not read -- only once the request is authenticated, and only up to
        ``drain_bytes`` (Content-Length or chunked) -- so the next request on this connection parses and closing
        never resets a reply; otherwise close the connection, after a bounded lingering read (``linger``)."""
        if req is None:
            self.close_connection = True
            self._linger = True
            return
        body = req.body
        if body.consumed or body.length == 0:
            return
        if body.length is None and not body.chunked:
            if "transfer-encoding" in req.headers:
                self.close_connection = True  # a transfer coding other than chunked: where it ends is unknown
                self._linger = True
            return
        if not authenticated or (body.length is not None and body.length > self.limits.drain_bytes):
            self.close_connection = True
            self._linger = True
            return
        try:
            drained = discard(body.reader(self.limits.drain_bytes + 1), self.limits.drain_bytes + 1)
        except CosError:  # a malformed chunked body
            drained = self.limits.drain_bytes + 1
        if drained > self.limits.drain_bytes:
            self.close_connection = True
            self._linger = True

    def _write(self, response: Response, request_id: str) -> None:
        """Write the status line, headers and body; announce ``Connection: close`` when closing after it."""
        self._server_name = next((v for k, v in response.headers.items() if k.lower() == "server"), "tencent-cos")
        self.send_response(response.status)
        self.send_header("x-cos-request-id", request_id)
        names = {name.lower() for name in response.headers} | {"server"}
        if "content-type" not in names:
            self.send_header("Content-Type", "application/xml")
        if "content-length" not in names:
            self.send_header("Content-Length", str(response.content_length()))
        for name, value in response.headers.items():
            if name.lower() != "server":
                self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if isinstance(response.body, bytes):
            if response.body:
                self.wfile.write(response.body)
        else:
            for chunk in response.body:
                self.wfile.write(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server refuses before a request is parsed (bad request line, too many headers, an
        unknown method) gets COS's XML error too, never a 5xx."""
        error = CosError("MethodNotAllowed" if code == 501 else "InvalidRequest", message or "Bad request.")
        if code != 501:
            error.status = code
        body = replies.error(error.code, error.message, "", "", None)
        self.close_connection = True
        if not str(getattr(self, "request_version", "")).startswith("HTTP/1."):
            self.request_version = "HTTP/1.0"  # an unparsable request line: still answer with a status line
        try:
            self.send_response(error.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass
