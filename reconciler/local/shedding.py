"""The local server's table of open connections, and who is shed when it fills (issue 22: 512 idle half-open
connections, which need no credentials, made the server answer 503 to signed clients).

Each connection is registered when accepted. A connection that has never carried an authenticated request and
is not in the middle of one ("idle unauthenticated": a half-open socket, slowloris headers, a client between
refused requests) is sheddable. When a new connection arrives and the table holds ``shed_at`` or more, the
oldest sheddable connections are closed (``socket.shutdown``: its thread's blocked ``recv`` returns at once)
until it holds fewer; only when nothing is sheddable and the table is full (``max_connections``) is the new
connection refused with 503. A connection once authenticated is never shed: a signed client's keep-alive
connections survive a flood of anonymous ones. Nothing here parses HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Entry:
    opened: float
    authenticated: bool = False
    busy: bool = False
    shed: bool = False


class ConnectionTable:
    """Open connections by socket; thread-safe. ``admit`` on accept, ``release`` when its thread ends."""

    def __init__(self, max_connections: int, shed_at: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_connections, self.shed_at = max_connections, min(shed_at, max_connections)
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Entry] = {}  # insertion order: oldest first
        self.shed_total = 0  # connections closed to make room (for tests and /-/stats readers)

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def admit(self, sock: socket.socket) -> bool:
        """Register a new connection, shedding the oldest idle unauthenticated ones when the table holds
        ``shed_at`` or more; False (refuse it) when it is full and nothing could be shed."""
        victims: list[socket.socket] = []
        with self._lock:
            if len(self._open) >= self.shed_at:
                for other, entry in self._open.items():
                    if len(self._open) - len(victims) < self.shed_at:
                        break
                    if not (entry.authenticated or entry.busy or entry.shed):
                        entry.shed = True
                        victims.append(other)
                for other in victims:  # their threads end on their own; the slots are free now
                    del self._open[other]
                self.shed_total += len(victims)
            admitted = len(self._open) < self.max_connections
            if admitted:
                self._open[sock] = _Entry(self._clock())
        for other in victims:
            try:
                other.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its own thread
        return admitted

    def release(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.pop(sock, None)

    def busy(self, sock: socket.socket, busy: bool, *, authenticated: bool = False) -> None:
        """Mark a connection as serving a request (never shed meanwhile) or idle again; ``authenticated``
        once one of its requests passed the signature check (never shed from then on)."""
        with self._lock:
            entry = self._open.get(sock)
            if entry is not None:
                entry.busy = busy
                entry.authenticated = entry.authenticated or authenticated
