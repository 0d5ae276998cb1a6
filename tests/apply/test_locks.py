"""Set locks: create-only, waiting, naming the holder, taking over dead or expired holders, refresh, unlock.
Run against a local state folder (hard-link create) and against COS (x-cos-forbid-overwrite)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.ops.compose import Backend
from reconciler.errors import LockError
from reconciler.state.locks import LOCK_NAME, LockInfo
from reconciler.state.store import LedgerStore

from tests.apply.conftest import declaration


@pytest.fixture(params=["dir", "cos"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerStore:
    if request.param == "dir":
        return LedgerStore(lambda region: pytest.fail("no COS"), tmp_path / "state")
    backend: Backend = request.getfixturevalue("backend")
    return backend.ledgers


def _plant(store: LedgerStore, info: LockInfo) -> None:
    assert store.blobs(declaration()).create(LOCK_NAME, json.dumps(info.to_data()).encode())


def test_second_acquire_waits_then_fails_naming_the_holder(store: LedgerStore) -> None:
    decl = declaration()
    held = store.acquire(decl)
    seen: list[LockInfo] = []
    started = time.monotonic()
    with pytest.raises(LockError) as caught:
        store.acquire(decl, timeout=0.3, on_wait=seen.append)
    assert time.monotonic() - started >= 0.3
    assert held.info.id in str(caught.value) and f"pid {held.info.pid}" in str(caught.value)
    assert "cosrecon unlock" in str(caught.value)
    assert [s.id for s in seen] == [held.info.id]
    held.release()
    again = store.acquire(decl)
    assert again.took_over is None
    again.release()
    assert store.read_lock(decl) is None


def test_dead_holder_on_this_host_is_taken_over(store: LedgerStore) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = LockInfo("deadbeef", "shop", socket.gethostname(), gone.pid, "apply", "2026-01-01T00:00:00Z",
                    time.time() + 3600)
    _plant(store, dead)
    held = store.acquire(declaration())
    assert held.took_over is not None and held.took_over.id == "deadbeef"
    held.release()


def test_expired_lease_is_taken_over_even_from_another_host(store: LedgerStore) -> None:
    _plant(store, LockInfo("old", "shop", "elsewhere", 1, "apply", "2026-01-01T00:00:00Z", time.time() - 1))
    held = store.acquire(declaration())
    assert held.took_over is not None and held.took_over.host == "elsewhere"
    held.release()


def test_live_holder_elsewhere_is_not_taken_over(store: LedgerStore) -> None:
    _plant(store, LockInfo("busy", "shop", "elsewhere", 1, "apply", "2026-01-01T00:00:00Z", time.time() + 600))
    with pytest.raises(LockError, match="busy"):
        store.acquire(declaration(), timeout=0)


def test_refresh_extends_the_lease_and_notices_a_lost_lock(store: LedgerStore) -> None:
    decl = declaration()
    held = store.acquire(decl, lease=30)
    before = store.read_lock(decl)
    assert before is not None
    time.sleep(0.01)
    held.refresh()
    after = store.read_lock(decl)
    assert after is not None and after.expires > before.expires and not held.lost
    with pytest.raises(LockError, match="not by nope"):
        store.unlock(decl, "nope")
    store.unlock(decl, held.info.id)  # broken by hand
    held.refresh()
    assert held.lost
    held.release()  # does not delete someone else's lock
    assert store.read_lock(decl) is None
