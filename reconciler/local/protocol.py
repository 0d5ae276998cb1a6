"""Values shared by the local server's HTTP handler and its routes: the request, its body, the response, the error.

A route is a function of the server's state and a ``Request`` that returns a ``Response`` (or raises
``CosError``); only the HTTP handler touches the socket. The request body is read through ``RequestBody``,
which never reads past the body (keep-alive) and remembers whether the route consumed it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def valid_bucket_name(name: str) -> bool:
    """COS bucket names (``<name>-<appid>``): lower-case letters, digits and '-', at most 63 characters."""
    return bool(_BUCKET.match(name))


MAX_KEY_BYTES = 850
MAX_BODY = 5 * 1024**3
_STATUS = {"AccessDenied": 403, "SignatureDoesNotMatch": 403, "InvalidAccessKeyId": 403,
           "RequestTimeTooSkewed": 403, "NoSuchBucket": 404, "NoSuchKey": 404, "InvalidArgument": 400,
           "InvalidURI": 400, "InvalidBucketName": 400, "KeyTooLong": 400, "BadDigest": 400,
           "InvalidDigest": 400, "MalformedXML": 400, "InvalidRange": 416, "FileAlreadyExists": 409,
           "BucketAlreadyExists": 409, "BucketNotEmpty": 409, "SlowDown": 503, "InternalError": 500,
           "MethodNotAllowed": 405, "MissingContentLength": 411, "EntityTooLarge": 400,
           "PreconditionFailed": 412, "ResourceNotFound": 404, "NotModified": 304, "NotImplemented": 501,
           "BucketAlreadyOwnedByYou": 409, "NoSuchUpload": 404, "InvalidPart": 400, "InvalidPartOrder": 400,
           "EntityTooSmall": 400, "IncompleteBody": 400, "NoSuchInventoryConfiguration": 404}


class CosError(Exception):
    """An error reply. ``ci`` errors omit Resource, like Cloud Infinite's documented error body."""

    def __init__(self, code: str, message: str, *, ci: bool = False, headers: Mapping[str, str] | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.ci = code, message, ci
        self.headers = dict(headers or {})  # e.g. X-ErrNo on download-time processing errors
        self.status = status if status is not None else _STATUS.get(code, 400)  # CI's numeric codes: given


class Readable(Protocol):
    """Anything with ``read(size)`` (a socket file, a bounded reader, BytesIO)."""

    def read(self, size: int = -1, /) -> bytes: ...


class LimitedReader:
    """Reads at most ``remaining`` bytes of a request body (keep-alive: never past the body)."""

    def __init__(self, stream: Readable, remaining: int) -> None:
        self.stream, self.remaining = stream, remaining

    def read(self, size: int = -1, /) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.stream.read(size)
        self.remaining -= len(data)
        if len(data) < size:
            raise ConnectionResetError("the client closed the connection mid-body")
        return data


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
BUFFER = 1 << 20  # the most one read of a body asks the socket for (a chunk's size never sets it)


class ChunkedReader:
    """Reads a ``Transfer-Encoding: chunked`` body (RFC 9112 7.1), chunk extensions and trailers skipped.

    A chunk size must be 1-16 hexadecimal digits (RFC 9112: ``1*HEXDIG``; no sign, ``0x`` or ``_``) and fit
    in what remains of ``limit``, else the body is refused (400) before the chunk is read; no read asks
    the socket for more than ``BUFFER`` bytes, whatever the chunk says."""

    def __init__(self, stream: Readable, line: Callable[[], bytes], limit: int = MAX_BODY) -> None:
        self.stream, self._line = stream, line
        self._left = 0
        self._allowance = limit  # bytes the chunks still announced may add up to
        self._done = False
        self._seen_chunk = False

    def _next_chunk(self) -> None:
        if self._left == 0 and not self._done:
            if self._seen_chunk:
                self._crlf()
            size_text = self._line().split(b";", 1)[0].strip(b" \t\r\n")
            if not _CHUNK_SIZE.fullmatch(size_text):
                shown = size_text[:20].decode("ascii", "backslashreplace")
                raise CosError("IncompleteBody", f"The chunked request body is malformed: chunk size {shown!r} "
                                                 "is not hexadecimal digits.")
            size = int(size_text, 16)
            if size > self._allowance:
                raise CosError("EntityTooLarge", f"The chunked request body is too large: a chunk of {size} "
                                                 f"bytes, {self._allowance} are still accepted.")
            self._left = size
            self._allowance -= size
            self._seen_chunk = True
            if self._left == 0:
                self._done = True
                while self._line().strip():  # trailers, up to the empty line
                    pass

    def _crlf(self) -> None:
        if self._line().strip():
            raise CosError("IncompleteBody", "The chunked request body is malformed.")

    def read(self, size: int = -1, /) -> bytes:
        out = bytearray()
        while (size < 0 or len(out) < size) and not self._done:
            self._next_chunk()
            if self._done:
                break
            want = min(self._left, BUFFER) if size < 0 else min(self._left, size - len(out), BUFFER)
            data = self.stream.read(want)
            if len(data) < want:
                raise ConnectionResetError("the client closed the connection mid-body")
            self._left -= len(data)
            out += data
        return bytes(out)


class RequestBody:
    """The body of one request, read at most once: ``length`` is the Content-Length (None when absent);
    ``chunked`` when sent with ``Transfer-Encoding: chunked`` (the SDK does for streams of unknown length)."""

    def __init__(self, stream: Readable, length: int | None, line: Callable[[], bytes] | None = None) -> None:
        self.length = length
        self.chunked = line is not None and length is None
        self.consumed = False
        self._stream = stream
        self._line = line

    @property
    def present(self) -> bool:
        """Whether the request says how its body ends (Content-Length or chunked)."""
        return self.length is not None or self.chunked

    def reader(self, limit: int = MAX_BODY) -> Readable:
        """A reader over the body that stops at its end; the body counts as consumed. A chunked body whose
        chunks announce more than ``limit`` bytes in all is refused (EntityTooLarge) before they are read."""
        self.consumed = True
        if self.chunked and self._line is not None:
            return ChunkedReader(self._stream, self._line, limit)
        return LimitedReader(self._stream, self.length or 0)

    def read_all(self, limit: int = MAX_BODY) -> bytes:
        """The whole body (b"" when there is none); a chunked one of at most ``limit`` bytes."""
        if self.length or self.chunked:
            return self.reader(limit).read()
        self.consumed = True
        return b""


def empty_body() -> RequestBody:
    """A request body of zero bytes (routes called without a socket, HEAD/GET without a body)."""
    return RequestBody(_Empty(), 0)


class _Empty:
    def read(self, size: int = -1, /) -> bytes:
        return b""


@dataclass
class Request:
    """What routing needs about one request. ``params`` is the query without the signature fields."""

    method: str
    bucket: str | None
    region: str
    host: str
    key: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    body: RequestBody = field(default_factory=empty_body)
    request_id: str = ""
    service: str = "cos"  # "ci": a Cloud Infinite service host (``ci_service``), routed apart from COS


@dataclass(frozen=True)
class Response:
    """One reply. ``body`` is bytes or an iterable of chunks (then ``headers`` must carry Content-Length);
    a HEAD reply carries the GET's Content-Length and an empty body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""

    def content_length(self) -> int:
        """The Content-Length to announce."""
        for name, value in self.headers.items():
            if name.lower() == "content-length":
                return int(value)
        if isinstance(self.body, bytes):
            return len(self.body)
        raise ValueError("a streamed response needs a Content-Length header")

