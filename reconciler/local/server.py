"""``LocalServer``: the embedded COS + Cloud Infinite compatible server, started in-process or by the CLI.

Serves HTTP/1.1 (keep-alive) from a ThreadingHTTPServer in background threads; ``port=0`` picks an ephemeral
port. Credentials: explicit arguments, else ``TENCENTCLOUD_SECRET_ID`` / ``TENCENTCLOUD_SECRET_KEY`` (and
``TENCENTCLOUD_SECURITY_TOKEN``) from the environment, else the well-known local pair below (like Azurite's).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.local import replies
from reconciler.local.admission import ProcessingGate, ProcessingLimits
from reconciler.local.auth import Credentials
from reconciler.local.bucket_ci import BucketCi, CiSettings
from reconciler.local.connection import ConnectionLimits
from reconciler.local.context import ServerState
from reconciler.local.faults import Faults, FaultSettings, Stats
from reconciler.local.handler import Handler
from reconciler.local.protocol import valid_bucket_name
from reconciler.local.shedding import ConnectionTable
from reconciler.local.store import LocalStore
from reconciler.local.uploads import Uploads

DEFAULT_SECRET_ID = "AKIDcosreconLOCAL0000000000000000000"
DEFAULT_SECRET_KEY = "cosreconLocalSecretKey00000000000"
_BUSY_BODY = replies.error("SlowDown", "Too many connections; try again later.", "", "", None)
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nConnection: close\r\n"
         + f"Content-Length: {len(_BUSY_BODY)}\r\n\r\n".encode() + _BUSY_BODY)


def resolve_credentials(secret_id: str | None, secret_key: str | None, token: str | None) -> tuple[Credentials, bool]:
    """The credentials to run with, and whether they came from the environment (then never print the key)."""
    if secret_id is not None and secret_key is not None:
        return Credentials(secret_id, secret_key, token), False
    env_id, env_key = os.environ.get("TENCENTCLOUD_SECRET_ID"), os.environ.get("TENCENTCLOUD_SECRET_KEY")
    if env_id and env_key:
        return Credentials(env_id, env_key, token or os.environ.get("TENCENTCLOUD_SECURITY_TOKEN") or None), True
    return Credentials(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, token), False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[Handler], connections: ConnectionTable) -> None:
        super().__init__(address, handler)
        self.connections = connections

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection; when the table is full even after shedding idle unauthenticated
        connections (``ConnectionTable.admit``), 503 SlowDown."""
        if not self.connections.admit(request):
            try:
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release(request)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client resetting its connection is routine; the server never prints a traceback for it."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalServer:
    """A local COS + CI server over a store under ``root``. Use ``start()``/``stop()`` or ``with``."""

    def __init__(self, root: Path | str, *, host: str = "127.0.0.1", port: int = 0, buckets: Iterable[str] = (),
                 secret_id: str | None = None, secret_key: str | None = None, token: str | None = None,
                 ci_qps: float = 100.0, latency_ms: float = 0.0, fail_rate: float = 0.0,
                 throttle_rate: float = 0.0, seed: int | None = None, throttle_as: str = "SlowDown",
                 advanced_compression: bool = False, style_separators: str = "",
                 limits: ConnectionLimits | None = None, processing: ProcessingLimits | None = None) -> None:
        self.root = Path(root)
        self.limits = limits or ConnectionLimits()
        self.host = host
        self.port = port
        credentials, self.credentials_from_env = resolve_credentials(secret_id, secret_key, token)
        self.secret_id = credentials.secret_id
        self.secret_key = credentials.secret_key
        self.token = credentials.token
        self.store = LocalStore(self.root)
        for name in buckets:
            self.create_bucket(name)
        self._state = ServerState(self.store, credentials,
                                  Faults(FaultSettings(ci_qps, latency_ms, fail_rate, throttle_rate, throttle_as), seed),
                                  Stats(),
                                  Uploads(self.store), ProcessingGate(processing or ProcessingLimits.from_memory()),
                                  CiSettings(BucketCi(advanced_compression, style_separators)))
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalServer:
        if self._httpd is not None:
            return self
        table = ConnectionTable(self.limits.max_connections, self.limits.shed_at)
        handler = type("BoundHandler", (Handler,), {"state": self._state, "limits": self.limits,
                                                    "connections": table})
        self._httpd = _HTTPServer((self.host, self.port), handler, table)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"cosrecon-local:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` (from another thread) or KeyboardInterrupt."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.store.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def create_bucket(self, name: str) -> None:
        """Create a bucket (no error if it exists); ValueError for a name COS would refuse."""
        if not valid_bucket_name(name):
            raise ValueError(f"bucket {name!r}: lower-case letters, digits and '-' only, at most 63 characters")
        self.store.create_bucket(name)

    @property
    def connections(self) -> ConnectionTable | None:
        """The open connections while serving (how many, how many were shed), else None."""
        return self._httpd.connections if self._httpd is not None else None

    def set_bucket_ci(self, bucket: str, *, advanced_compression: bool | None = None,
                      style_separators: str | None = None) -> None:
        """Switch a bucket's image advanced compression or its enabled style separators (``local.bucket_ci``)."""
        self._state.ci.set(bucket, advanced_compression=advanced_compression, separators=style_separators)

    def stats(self) -> dict[str, int]:
        """Per-operation request counts (the same JSON as ``GET /-/stats``)."""
        return self._state.stats.snapshot()

    def set_faults(self, *, latency_ms: float | None = None, fail_rate: float | None = None,
                   throttle_rate: float | None = None, ci_qps: float | None = None,
                   throttle_as: str | None = None) -> None:
        """Change the rate limit or injected faults while running (``throttle_as``: SlowDown, TooManyRequests or
        -60949, the form a throttled processing call is answered in)."""
        self._state.faults.update(latency_ms=latency_ms, fail_rate=fail_rate, throttle_rate=throttle_rate,
                                  ci_qps=ci_qps, throttle_as=throttle_as)
