"""Set locks: the lock object (``LockInfo``), taking, holding (lease refreshed by a thread) and breaking it.

A set's lock is ``<set>/lock.json`` beside its ledger, created create-only, so one apply or adopt at a time
changes a set. A holder that is provably gone (expired lease, or a dead process on this host) is taken over.
This module must not read or write ledgers or journals, and never waits longer than it is told.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.state.blobs import SetBlobs as LedgerStore, dump_json, load_json
from reconciler.errors import LockError, StateError, StorageError
from reconciler.model import Declaration


LOCK_NAME = "lock.json"
DEFAULT_LEASE = 60.0  # seconds a lock stays valid without a refresh


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class LockInfo:
    """The content of a lock object: who holds the set, since when, until when (lease, epoch seconds)."""

    id: str
    set: str
    host: str
    pid: int
    operation: str
    started: str
    expires: float

    @staticmethod
    def new(set_name: str, operation: str, lease: float) -> LockInfo:
        now = time.time()
        return LockInfo(uuid.uuid4().hex[:16], set_name, socket.gethostname(), os.getpid(), operation,
                        datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), now + lease)

    def to_data(self) -> dict[str, Any]:
        return {"format_version": 1, "kind": "lock", "id": self.id, "set": self.set, "host": self.host,
                "pid": self.pid, "operation": self.operation, "started": self.started, "expires": self.expires}

    @staticmethod
    def from_data(data: Any) -> LockInfo:
        if not isinstance(data, dict) or data.get("kind") != "lock":
            raise StateError("lock object is not a cosrecon lock")
        return LockInfo(str(data.get("id", "")), str(data.get("set", "")), str(data.get("host", "")),
                        int(data.get("pid", 0)), str(data.get("operation", "")), str(data.get("started", "")),
                        float(data.get("expires", 0)))

    def is_stale(self) -> bool:
        """Expired lease, or a holder on this host whose process is gone."""
        if time.time() > self.expires:
            return True
        return self.host == socket.gethostname() and not _pid_alive(self.pid)

    def describe(self) -> str:
        return f"lock {self.id} ({self.operation} by pid {self.pid} on {self.host}, since {self.started})"


class HeldLock:
    """A lock this process holds; ``refresh`` extends the lease (a background thread does it while running)."""

    def __init__(self, store: LedgerStore, decl: Declaration, info: LockInfo, lease: float,
                 took_over: LockInfo | None) -> None:
        self.store, self.decl, self.info, self.lease, self.took_over = store, decl, info, lease, took_over
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        current = read_lock(self.store, self.decl)
        if current is None or current.id != self.info.id:
            self.lost = True
            return
        self.info = replace(self.info, expires=time.time() + self.lease)
        self.store.blobs(self.decl).write(LOCK_NAME, dump_json(self.info.to_data()))

    def _run(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.refresh()
            except StorageError:
                pass  # the next refresh retries; the lease is three refresh periods long

    def __enter__(self) -> HeldLock:
        self._thread = threading.Thread(target=self._run, name=f"lock-{self.decl.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        current = read_lock(self.store, self.decl)
        if current is not None and current.id == self.info.id:
            self.store.blobs(self.decl).delete(LOCK_NAME)


def read_lock(store: LedgerStore, decl: Declaration) -> LockInfo | None:
    """The set's lock as it stands; None when the set is not locked."""
    blobs = store.blobs(decl)
    raw = blobs.read(LOCK_NAME)
    return None if raw is None else LockInfo.from_data(load_json(raw, blobs.where + LOCK_NAME))


def acquire(store: LedgerStore, decl: Declaration, *, timeout: float = 0, lease: float = DEFAULT_LEASE,
            operation: str = "apply", on_wait: Callable[[LockInfo], None] | None = None) -> HeldLock:
    """Take the set's lock, waiting up to ``timeout`` seconds; a provably dead or expired holder is taken over
    (``HeldLock.took_over`` names it). Raises ``LockError`` naming the holder when the wait runs out."""
    blobs = store.blobs(decl)
    deadline = time.monotonic() + timeout
    took_over: LockInfo | None = None
    waited = False
    while True:
        mine = LockInfo.new(decl.name, operation, lease)
        if blobs.create(LOCK_NAME, dump_json(mine.to_data())):
            return HeldLock(store, decl, mine, lease, took_over)
        holder = read_lock(store, decl)
        if holder is None:
            time.sleep(0.05)
            continue  # released between our create and our read
        if holder.is_stale():
            again = read_lock(store, decl)
            if again is not None and again.id == holder.id:
                blobs.delete(LOCK_NAME)
                took_over = holder
            continue
        if time.monotonic() >= deadline:
            raise LockError(
                f"set {decl.name!r} is locked by {holder.describe()}; waited {timeout:g}s. "
                f"If that process is gone, run: cosrecon unlock {holder.id} {decl.path or '<declaration>'}")
        if on_wait is not None and not waited:
            on_wait(holder)
        waited = True
        time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))


def unlock(store: LedgerStore, decl: Declaration, lock_id: str) -> LockInfo:
    """Break the set's lock by hand (as ``terraform force-unlock``): only the lock with this id."""
    holder = read_lock(store, decl)
    if holder is None:
        raise LockError(f"set {decl.name!r} is not locked")
    if holder.id != lock_id:
        raise LockError(f"set {decl.name!r} is locked by {holder.describe()}, not by {lock_id}")
    store.blobs(decl).delete(LOCK_NAME)
    return holder
