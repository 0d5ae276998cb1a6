"""Connection limits of the local server: how long a client may take, how much of an unwanted body is
discarded, how many connections are served at once (issue 15: a 1-byte-per-second body or 500 slowloris
connections must not hold the server forever; an unauthenticated body is never read).

``DeadlineReader`` is the raw reader under a connection's ``rfile``: every ``recv`` waits at most
``read_timeout`` and never past the current deadline, which the handler sets per phase (request line and
headers: ``header_seconds``; body: ``body_seconds(length)``). Nothing here parses HTTP.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.local.protocol import CosError, Readable, RequestBody

_CHUNK = 64 * 1024
# POST ?delete names at most 1000 objects (https://cloud.tencent.com/document/product/436/8289); each key is at
# most 850 bytes, XML-escaped at most 6 bytes per byte (``&quot;``), plus its element tags.
MAX_DELETE_BODY = 1000 * (850 * 6 + 256) + 4096
# Complete Multipart Upload lists at most 10,000 parts (https://cloud.tencent.com/document/product/436/7750),
# each a <Part> of a part number and a quoted ETag: well under 256 bytes.
MAX_COMPLETE_BODY = 10_000 * 256 + 4096


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-connection time and size limits. The defaults suit a developer machine; tests shrink them."""

    read_timeout: float = 30.0  # one recv (and one send) may wait this long
    header_seconds: float = 30.0  # request line + headers (and keep-alive idle time) in total
    body_base_seconds: float = 30.0  # a body may take this long ...
    body_min_rate: float = 32 * 1024  # ... plus its length at this many bytes per second
    drain_bytes: int = 1024 * 1024  # an authenticated body a route did not read is discarded up to this
    linger_bytes: int = 256 * 1024  # before closing with an unread body: discard this much, so the reply
    linger_seconds: float = 2.0  # is not lost to a TCP reset (a "lingering close"), for at most this long
    max_connections: int = 512  # beyond this, new connections get 503 SlowDown and are closed ...
    shed_at: int = 448  # ... but from this many on, idle unauthenticated ones are closed first (shedding.py)

    def body_seconds(self, length: int) -> float:
        """The total time allowed to read a body of ``length`` bytes (for a chunked body, of the ``length``
        bytes received so far: it must keep up ``body_min_rate`` on average)."""
        return self.body_base_seconds + length / self.body_min_rate


class DeadlineReader(io.RawIOBase):
    """A socket's read side where each ``recv`` is bounded by ``read_timeout`` and by ``deadline()``; raises
    TimeoutError once the deadline has passed."""

    def __init__(self, sock: socket.socket, read_timeout: float, deadline: Callable[[], float],
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._sock, self._read_timeout, self._deadline, self._clock = sock, read_timeout, deadline, clock
        self.received = 0  # bytes read so far (a chunked body's deadline grows with them)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        left = self._deadline() - self._clock()
        if left <= 0:
            raise TimeoutError("the request took longer than its deadline")
        self._sock.settimeout(min(self._read_timeout, left))
        count = self._sock.recv_into(buffer)
        self.received += count
        return count


def read_bounded(body: RequestBody, limit: int, what: str) -> bytes:
    """The whole body of a request whose body must be held in memory, refused BEFORE reading when its
    Content-Length is over ``limit``; a chunked body is read up to ``limit`` and refused past it
    (EntityTooLarge either way; the handler then closes the connection)."""
    if body.chunked:
        try:
            return body.reader(limit).read()
        except CosError as error:
            if error.code == "EntityTooLarge":
                raise CosError("EntityTooLarge", f"{what}: the chunked body is over {limit} bytes.") from None
            raise
    if body.length is not None and body.length > limit:
        raise CosError("EntityTooLarge", f"{what}: the body is {body.length} bytes; at most {limit} are accepted.")
    return body.read_all()


def discard(stream: Readable, limit: int) -> int:
    """Read and drop up to ``limit`` bytes in small chunks (never held in memory); returns how many."""
    dropped = 0
    while dropped < limit:
        chunk = stream.read(min(_CHUNK, limit - dropped))
        if not chunk:
            break
        dropped += len(chunk)
    return dropped


def linger(sock: socket.socket, limits: ConnectionLimits, clock: Callable[[], float] = time.monotonic) -> None:
    """Half-close, then drop what the client is still sending (bounded in bytes and time), so that closing
    with unread data does not reset the connection before the client has read the reply."""
    try:
        sock.shutdown(socket.SHUT_WR)
        end = clock() + limits.linger_seconds
        dropped = 0
        while dropped < limits.linger_bytes:
            left = end - clock()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(_CHUNK)
            if not chunk:
                break
            dropped += len(chunk)
    except OSError:
        pass  # the client is gone or too slow: nothing more to do
