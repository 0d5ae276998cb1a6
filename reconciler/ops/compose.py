"""The composition root: the backend a command or the Pulumi provider talks to — COS (real, or any ``--endpoint``), or
the embedded local server (``--local``), with the credentials of the environment — and the buckets a run touches.

``connect`` opens the backend a ``Connection`` names, creating the sets' buckets on an embedded server. ``open_backend`` yields a ``Backend``: ``storage(region)`` gives a ``Storage`` per region (cached) and ``ledgers``
is the ``state.LedgerStore`` (in COS, or in ``--state-dir``). With ``local_root`` it starts
``reconciler.local.LocalServer`` in-process on a free port and stops it on exit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.credentials import check_pair, environment
from reconciler.declare.authority import declared_buckets
from reconciler.model import Declaration
from reconciler.state.store import LedgerStore
from reconciler.storage import Storage

DEFAULT_POOL_SIZE = 64  # enough for --parallelism up to 64 plus the journal/lock writers


class Backend:
    """Storage per region plus the ledger store. Thread-safe."""

    def __init__(self, *, endpoint: str | None = None, state_dir: Path | None = None,
                 secret_id: str | None = None, secret_key: str | None = None, token: str | None = None,
                 pool_size: int = DEFAULT_POOL_SIZE) -> None:
        check_pair(secret_id, secret_key, token, names=("secret id", "secret key", "security token"))
        self.endpoint = endpoint
        self._credentials = (secret_id, secret_key, token)
        self._pool_size = pool_size
        self._storages: dict[str, Storage] = {}
        self._lock = threading.Lock()
        self.ledgers = LedgerStore(self.storage, state_dir)

    def storage(self, region: str) -> Storage:
        with self._lock:
            if region not in self._storages:
                from reconciler.storage.cos import CosStorage

                secret_id, secret_key, token = self._credentials
                self._storages[region] = CosStorage(region=region, endpoint=self.endpoint, secret_id=secret_id,
                                                    secret_key=secret_key, token=token, pool_size=self._pool_size)
            return self._storages[region]


def _local_default_credentials() -> tuple[str | None, str | None]:
    """The embedded server's well-known pair, used for an ``--endpoint`` when no credentials are in the environment."""
    from reconciler.local import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    return DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY


@contextmanager
def open_backend(*, endpoint: str | None = None, local_root: Path | None = None, state_dir: Path | None = None,
                 local_buckets: Iterable[str] = (), pool_size: int = DEFAULT_POOL_SIZE) -> Iterator[Backend]:
    """A backend for one command; with ``local_root`` an embedded server runs for the duration."""
    env_id, env_key, env_token = environment()  # checked: both or neither, nothing unsafe in them
    if local_root is None:
        secret_id = secret_key = None
        if endpoint and not (env_id and env_key):
            secret_id, secret_key = _local_default_credentials()
        yield Backend(endpoint=endpoint, state_dir=state_dir, secret_id=secret_id, secret_key=secret_key,
                      pool_size=pool_size)
        return
    from reconciler.local import LocalServer

    local_root.mkdir(parents=True, exist_ok=True)
    server_options: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "buckets": sorted(set(local_buckets))}
    if env_id and env_key:
        server_options.update(secret_id=env_id, secret_key=env_key)
    server = LocalServer(local_root, **server_options)
    server.start()
    try:
        yield Backend(endpoint=server.endpoint, state_dir=state_dir,
                      secret_id=getattr(server, "secret_id", None) or env_id,
                      secret_key=getattr(server, "secret_key", None) or env_key,
                      token=env_token if env_id and env_key else None,
                      pool_size=pool_size)
    finally:
        server.stop()


@dataclass(frozen=True)
class Connection:
    """Where a command's objects and ledgers are reached: an endpoint (None: Tencent Cloud), an embedded server's
    data folder (``--local``), a local folder for the ledgers (``--state-dir``)."""

    endpoint: str | None = None
    local_root: Path | None = None
    state_dir: Path | None = None


def buckets_of(decls: Sequence[Declaration]) -> list[str]:
    """Every bucket the sets touch: sources, state, outputs and retired outputs (created on the embedded server with
    ``--local``)."""
    return sorted({b for d in decls for b in declared_buckets(d)})


def connect(connection: Connection, decls: Sequence[Declaration] = (), *, buckets: Iterable[str] = (),
            pool_size: int = DEFAULT_POOL_SIZE) -> AbstractContextManager[Backend]:
    """The backend ``connection`` names; the buckets ``decls`` touch (and ``buckets``) are created on an embedded
    server."""
    return open_backend(endpoint=connection.endpoint, local_root=connection.local_root,
                        state_dir=connection.state_dir, local_buckets=[*buckets_of(decls), *buckets],
                        pool_size=pool_size)


def pool_for(parallelism: int) -> int:
    """Connections for a run of ``parallelism`` workers, plus the journal, lock refresh and planner threads."""
    return max(DEFAULT_POOL_SIZE, parallelism + 8)
