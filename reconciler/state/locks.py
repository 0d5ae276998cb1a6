"""Set locks: the lock object (``LockInfo``), taking, holding (lease refreshed by a thread) and breaking it.

A set's lock is ``<set>/lock.json`` beside its ledger, created create-only, so one apply or adopt at a time
changes a set. It is never rewritten: COS has no conditional PUT, so a refresh that rewrote it could overwrite a
lock another process took. The holder extends its lease in its own object, ``<set>/lock-lease/<id>.json``, which
no other holder writes. A holder that is provably gone (expired lease, or a dead process on this host) is taken
over. ``HeldLock.check`` says whether this process still holds the lock (``LockLost`` names who does now).
A lock object that is not valid is a ``CorruptLock`` naming the token ``cosrecon unlock`` breaks it with.
This module must not read or write ledgers or journals, and never waits longer than it is told.
"""

from __future__ import annotations

import hashlib
import json
import logging
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


log = logging.getLogger(__name__)

LOCK_NAME = "lock.json"
LEASE_DIR = "lock-lease/"
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
    declaration: str = ""  # the holder's declaration file, so a collision names both declarations

    @staticmethod
    def new(set_name: str, operation: str, lease: float, declaration: str = "") -> LockInfo:
        now = time.time()
        return LockInfo(uuid.uuid4().hex[:16], set_name, socket.gethostname(), os.getpid(), operation,
                        datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), now + lease,
                        declaration)

    def to_data(self) -> dict[str, Any]:
        return {"format_version": 1, "kind": "lock", "id": self.id, "set": self.set, "host": self.host,
                "pid": self.pid, "operation": self.operation, "started": self.started, "expires": self.expires,
                "declaration": self.declaration}

    @staticmethod
    def from_data(data: Any, where: str = LOCK_NAME) -> LockInfo:
        """The lock, or ``StateError`` naming the field that is wrong (``where``: the lock object)."""
        if not isinstance(data, dict) or data.get("kind") != "lock":
            raise StateError(f"{where}: not a cosrecon lock")
        kinds: dict[str, tuple[type, ...]] = {"id": (str,), "set": (str,), "host": (str,), "pid": (int,),
                                              "operation": (str,), "started": (str,), "expires": (int, float)}
        for name, allowed in kinds.items():
            value = data.get(name)
            if not isinstance(value, allowed) or isinstance(value, bool):
                wanted = "a number" if float in allowed else ("an integer" if int in allowed else "a string")
                raise StateError(f"{where}: field {name!r} must be {wanted}, got {json.dumps(value)[:40]}")
        declaration = data.get("declaration", "")
        return LockInfo(data["id"], data["set"], data["host"], data["pid"], data["operation"], data["started"],
                        float(data["expires"]), declaration if isinstance(declaration, str) else "")

    def is_stale(self) -> bool:
        """Expired lease, or a holder on this host whose process is gone."""
        if time.time() > self.expires:
            return True
        return self.host == socket.gethostname() and not _pid_alive(self.pid)

    def describe(self) -> str:
        of = f" of {self.declaration}" if self.declaration else ""
        return f"lock {self.id} ({self.operation}{of} by pid {self.pid} on {self.host}, since {self.started})"


class CorruptLock(StateError):
    """The set's lock object is not a valid lock; ``token`` is what ``cosrecon unlock`` breaks it with."""

    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.token = token


class LockLost(LockError):
    """This process no longer holds the set's lock (its lease ran out and another process took it, or it was
    broken by hand): the run stops."""


def corrupt_token(raw: bytes) -> str:
    """The token naming one corrupt lock object's exact content (so unlock never breaks one that changed since)."""
    return "corrupt-" + hashlib.sha256(raw).hexdigest()[:12]


class HeldLock:
    """A lock this process holds; ``refresh`` extends the lease (a background thread does it while running)."""

    def __init__(self, store: LedgerStore, decl: Declaration, info: LockInfo, lease: float,
                 took_over: LockInfo | None) -> None:
        self.store, self.decl, self.info, self.lease, self.took_over = store, decl, info, lease, took_over
        self.lost = False
        self.holder: LockInfo | None = info  # who holds the lock, as last read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checked = time.monotonic()

    def refresh(self) -> None:
        """Extend the lease in this holder's own lease object, if the lock is still this process's."""
        if not self.still_held():
            return
        expires = time.time() + self.lease
        self.store.blobs(self.decl).write(f"{LEASE_DIR}{self.info.id}.json",
                                          dump_json({"kind": "lease", "id": self.info.id, "expires": expires}))
        self.info = replace(self.info, expires=expires)

    def still_held(self) -> bool:
        """Read the lock object: whether it is still this process's (sets ``lost`` and ``holder``)."""
        try:
            current = read_lock(self.store, self.decl)
        except CorruptLock:
            current = None
        except StorageError:
            return not self.lost  # unknown (the endpoint may be down): the next check reads again
        self._checked = time.monotonic()
        self.holder = current
        if current is None or current.id != self.info.id:
            self.lost = True
        return not self.lost

    def check(self, max_age: float = 0.0) -> None:
        """Raise ``LockLost`` naming the holder now when this process no longer holds the lock. The lock object is
        read again unless it was read less than ``max_age`` seconds ago."""
        if not self.lost and time.monotonic() - self._checked >= max_age:
            self.still_held()
        if self.lost:
            now = self.holder.describe() if self.holder is not None else "nobody (the lock object is gone or corrupt)"
            raise LockLost(f"set {self.decl.name!r}: this apply lost its lock {self.info.id}; it is held by {now}. "
                           f"Stopped: what was made is journaled, nothing more is done")

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
        """Delete the lock object if it is still this process's (best effort: a lock left behind by a dead endpoint
        expires with its lease)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            current = read_lock(self.store, self.decl)
            blobs = self.store.blobs(self.decl)
            if current is not None and current.id == self.info.id:
                blobs.delete(LOCK_NAME)
                log.debug("set %r: lock %s released", self.decl.name, self.info.id)
            blobs.delete(f"{LEASE_DIR}{self.info.id}.json")
        except (CorruptLock, StorageError):
            pass


def read_lock(store: LedgerStore, decl: Declaration) -> LockInfo | None:
    """The set's lock as it stands, its lease extended by its holder's lease object; None when the set is not
    locked. ``CorruptLock`` (located, with the unlock command) when the object is not a valid lock."""
    blobs = store.blobs(decl)
    raw = blobs.read(LOCK_NAME)
    if raw is None:
        return None
    where = blobs.where + LOCK_NAME
    try:
        info = LockInfo.from_data(load_json(raw, where), where)
    except StateError as error:
        token = corrupt_token(raw)
        raise CorruptLock(f"set {decl.name!r}: {error.message}. If no apply is running on this set, break the lock "
                          f"with: cosrecon unlock {token} {decl.path or '<declaration>'}", token) from error
    lease = blobs.read(f"{LEASE_DIR}{info.id}.json")
    try:
        expires = float(json.loads(lease)["expires"]) if lease is not None else 0.0
    except (ValueError, KeyError, TypeError):
        expires = 0.0  # a lease object that does not read extends nothing
    return replace(info, expires=max(info.expires, expires))


def acquire(store: LedgerStore, decl: Declaration, *, timeout: float = 0, lease: float = DEFAULT_LEASE,
            operation: str = "apply", on_wait: Callable[[LockInfo], None] | None = None) -> HeldLock:
    """Take the set's lock, waiting up to ``timeout`` seconds; a provably dead or expired holder is taken over
    (``HeldLock.took_over`` names it). Raises ``LockError`` naming the holder when the wait runs out."""
    blobs = store.blobs(decl)
    deadline = time.monotonic() + timeout
    took_over: LockInfo | None = None
    waited = False
    while True:
        mine = LockInfo.new(decl.name, operation, lease, decl.path)
        if blobs.create(LOCK_NAME, dump_json(mine.to_data())):
            log.debug("set %r: lock %s taken (%s, lease %gs)", decl.name, mine.id, operation, lease)
            return HeldLock(store, decl, mine, lease, took_over)
        holder = read_lock(store, decl)
        if holder is None:
            time.sleep(0.05)
            continue  # released between our create and our read
        if holder.is_stale():
            again = read_lock(store, decl)
            if again is not None and again.id == holder.id:
                blobs.delete(LOCK_NAME)
                blobs.delete(f"{LEASE_DIR}{holder.id}.json")
                took_over = holder
                log.debug("set %r: stale lock %s broken (%s)", decl.name, holder.id, holder.describe())
            continue
        if time.monotonic() >= deadline:
            raise LockError(
                f"set {decl.name!r} is locked by {holder.describe()}; waited {timeout:g}s. "
                f"If that process is gone, run: cosrecon unlock {holder.id} {decl.path or '<declaration>'}")
        if not waited:
            log.debug("set %r: waiting up to %gs for lock %s", decl.name, timeout, holder.id)
        if on_wait is not None and not waited:
            on_wait(holder)
        waited = True
        time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))


def unlock(store: LedgerStore, decl: Declaration, lock_id: str) -> LockInfo:
    """Break the set's lock by hand (as ``terraform force-unlock``): only the lock with this id (a corrupt lock
    object: the token its ``CorruptLock`` names)."""
    try:
        holder = read_lock(store, decl)
    except CorruptLock as corrupt:
        if corrupt.token != lock_id:
            raise
        store.blobs(decl).delete(LOCK_NAME)
        return LockInfo(lock_id, decl.name, "", 0, "corrupt lock object", "", 0.0)
    if holder is None:
        raise LockError(f"set {decl.name!r} is not locked")
    if holder.id != lock_id:
        raise LockError(f"set {decl.name!r} is locked by {holder.describe()}, not by {lock_id}")
    store.blobs(decl).delete(LOCK_NAME)
    return holder
