"""Issue 12's attacks on a run: a lock lost mid-apply, corrupt lock and journal objects (located errors and a way
out), against the local server through the real SDK."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.apply.contract import ApplyOptions
from reconciler.apply.engine import apply_plan
from reconciler.apply.locking import lock_sets
from reconciler.cli import main
from reconciler.local import LocalServer
from reconciler.state.locks import LockLost

from tests.apply.conftest import REGION, SRC, declaration, keys, make_plan, process_calls, seed
from test_state_attacks import everything, shop_text, write

MANY = [f"photos/p{i:03d}.jpg" for i in range(60)]


def cli(server: LocalServer, *args: str) -> tuple[int, str, str]:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    result = CliRunner().invoke(main, [*args, "--endpoint", server.endpoint], env=env)
    return result.exit_code, result.stdout, result.stderr


class TakeOverAfter:
    """A progress sink that, after ``calls`` calls, breaks the run's lock and takes it as another process would."""

    def __init__(self, backend: Backend, calls: int) -> None:
        self.backend, self.calls, self.seen, self.thief = backend, calls, 0, None

    def start(self, total: int) -> None:
        pass

    def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None:
        self.seen += calls
        if self.thief is None and self.seen >= self.calls:
            decl = declaration()
            holder = self.backend.ledgers.read_lock(decl)
            assert holder is not None
            self.backend.ledgers.unlock(decl, holder.id)  # as if its lease ran out and another apply took it over
            self.thief = self.backend.ledgers.acquire(decl, lease=600, operation="apply")

    def close(self) -> None:
        pass


def test_a_lost_lock_stops_the_run_and_never_compacts_over_the_new_holder(server: LocalServer,
                                                                          backend: Backend) -> None:
    seed(backend, MANY)
    decl = declaration()
    sink = TakeOverAfter(backend, calls=5)
    options = ApplyOptions(parallelism=2, max_qps=0, lock_check_interval=0.0, progress=sink)
    ledger_before = backend.ledgers.blobs(decl).read("ledger.jsonl")
    with pytest.raises(LockLost) as lost:
        with lock_sets([decl], backend, options) as locks:
            apply_plan(make_plan([decl], backend), [decl], backend, options, locks=locks)
    assert sink.thief is not None
    assert sink.thief.info.id in str(lost.value) and "held by" in str(lost.value)  # says who holds it now
    assert process_calls(server) < len(MANY)  # stopped calling
    blobs = backend.ledgers.blobs(decl)
    assert blobs.read("ledger.jsonl") == ledger_before  # never compacted over the new holder's ledger
    assert blobs.list("journal/")  # what it made is journaled, for the next apply to merge
    current = backend.ledgers.read_lock(decl)
    assert current is not None and current.id == sink.thief.info.id  # the new holder's lock is untouched
    sink.thief.release()
    report = apply_plan(make_plan([decl], backend), [decl], backend, replace(options, progress=None))
    assert report.failed == 0 and not make_plan([decl], backend).has_changes  # the journal merged: converges
    assert len(keys(backend, SRC, "thumbs/")) == len(MANY)


def test_a_refresh_never_rewrites_the_lock_object(server: LocalServer, backend: Backend) -> None:
    decl = declaration()
    held = backend.ledgers.acquire(decl, lease=600)
    blobs = backend.ledgers.blobs(decl)
    first = blobs.read("lock.json")
    held.refresh()
    assert blobs.read("lock.json") == first  # the lease is extended in this holder's own object
    assert backend.ledgers.read_lock(decl).expires > json.loads(first)["expires"]  # type: ignore[union-attr]
    backend.ledgers.unlock(decl, held.info.id)
    thief = backend.ledgers.acquire(decl, lease=600)
    held.refresh()  # a late refresh of the old holder
    assert held.lost and backend.ledgers.read_lock(decl).id == thief.info.id  # type: ignore[union-attr]
    held.release()
    assert backend.ledgers.read_lock(decl).id == thief.info.id  # type: ignore[union-attr]
    thief.release()


@pytest.mark.parametrize("content, cause", [
    (b'{"format_version": 1, "kind": "lock", "id": "x", "set": "shop", "host": "h", "pid": "abc", '
     b'"operation": "apply", "started": "", "expires": 0}', "field 'pid' must be an integer"),
    (b'{"format_version": 1, "kind": "lock", "id": "x", "set": "shop", "host": "h", "pid": 1, '
     b'"operation": "apply", "started": "", "expires": "soon"}', "field 'expires' must be a number"),
    (b"{not json", "not valid JSON"),
])
def test_a_corrupt_lock_is_a_located_error_and_unlock_breaks_it(server: LocalServer, backend: Backend,
                                                                 tmp_path: Path, content: bytes, cause: str) -> None:
    seed(backend, ["photos/a.jpg"])
    path = write(tmp_path, shop_text())
    backend.storage(REGION).put_object(SRC, ".cosrecon/shop/lock.json", content)
    before = everything(backend)
    code, out, err = cli(server, "apply", "--yes", str(path))
    assert code == 1 and cause in err and "lock.json" in err and "internal error" not in err
    assert everything(backend) == before
    command = err.split("break the lock with: ")[1].split()
    assert command[:2] == ["cosrecon", "unlock"]
    code, out, err = cli(server, *command[1:])
    assert code == 0 and "Unlocked set 'shop'" in out, err
    code, out, err = cli(server, "apply", "--yes", str(path))
    assert code == 0 and "2 created" in out, err


@pytest.mark.parametrize("edit, cause", [
    (lambda seg: {**seg, "seq": "abc"}, "seq must be an integer"),
    (lambda seg: {**seg, "name": "gallery"}, "belongs to set 'gallery'"),
    (lambda seg: "[", "not valid JSON"),
])
def test_a_corrupt_journal_segment_is_named_with_the_command_that_sets_it_aside(server: LocalServer,
                                                                                backend: Backend, tmp_path: Path,
                                                                                edit: object, cause: str) -> None:
    seed(backend, ["photos/a.jpg", "photos/b.jpg"])
    path = write(tmp_path, shop_text())
    decl = declaration()
    segment = backend.ledgers.write_segment(decl, "20260101T000000-deadbeef", 0, "0", [])
    blobs = backend.ledgers.blobs(decl)
    data = json.loads(blobs.read(segment) or b"")
    changed = edit(data)  # type: ignore[operator]
    blobs.write(segment, changed.encode() if isinstance(changed, str) else json.dumps(changed).encode())
    before = everything(backend)
    code, out, err = cli(server, "apply", "--yes", str(path))
    assert code == 1 and cause in err and segment in err and "internal error" not in err
    assert everything(backend) == before
    command = err.split("with: ")[-1].split()
    assert command[:3] == ["cosrecon", "journal", "set-aside"]
    code, out, err = cli(server, *command[1:])
    assert code == 0 and "Set aside" in out, err
    code, out, err = cli(server, "apply", "--yes", str(path))
    assert code == 0 and "4 created" in out, err


# --- SIGTERM and a dead endpoint -------------------------------------------------------------------------------


def test_sigterm_mid_apply_is_handled_as_ctrl_c(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    import os
    import signal
    import time

    from test_apply_cli import _apply_process

    sources = [f"photos/{i:02d}.jpg" for i in range(40)]
    seed(backend, sources)
    path = write(tmp_path, shop_text())
    server.set_faults(latency_ms=150)
    proc = _apply_process(server, path, "--parallelism", "4")
    deadline = time.monotonic() + 30
    while process_calls(server) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    server.set_faults(latency_ms=0)
    assert proc.returncode == 143, err
    assert "interrupted (SIGTERM)" in err and "Apply stopped (SIGTERM)" in out  # the report is printed
    assert backend.ledgers.read_lock(declaration()) is None  # the lock is released
    issued = process_calls(server)
    assert issued < len(sources)
    # everything the stopped run made is journaled: the next run redoes no call
    proc = _apply_process(server, path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert process_calls(server) == len(sources)  # 0 calls redone
    assert not make_plan([declaration()], backend).has_changes


class Forwarder:
    """A TCP forwarder in front of the local server: ``kill`` closes it and every connection (the endpoint dies)."""

    def __init__(self, port: int) -> None:
        import socket
        import threading

        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def kill(self) -> None:
        import socket

        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone would not on Linux)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass


class SteppingClock:
    """A clock that moves 10 s each time it is read: the 30 s dead-endpoint window passes in a few failures."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10.0
        return self.now


def test_a_dead_endpoint_stops_the_run_with_a_report(server: LocalServer, backend: Backend,
                                                     tmp_path: Path) -> None:
    import time

    from reconciler.apply.stopping import RunStopped
    from reconciler.pacing import RetryPolicy

    seed(backend, MANY)
    decl = declaration()
    forwarder = Forwarder(int(server.endpoint.rsplit(":", 1)[1]))
    through = Backend(endpoint=f"http://127.0.0.1:{forwarder.port}", secret_id=server.secret_id,
                      secret_key=server.secret_key, state_dir=tmp_path / "state")

    class KillEndpointAfter(TakeOverAfter):
        def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None:
            self.seen += calls
            if self.seen >= self.calls and self.thief is None:
                self.thief = True  # type: ignore[assignment]
                forwarder.kill()

    options = ApplyOptions(parallelism=4, max_qps=0, progress=KillEndpointAfter(backend, 8), clock=SteppingClock(),
                           retry=RetryPolicy(attempts=50, base=0.001, cap=0.01))
    plan = make_plan([decl], through)
    started = time.monotonic()
    with pytest.raises(RunStopped) as stopped:
        apply_plan(plan, [decl], through, options)
    assert time.monotonic() - started < 20  # without the watch: 50 attempts per call, 60 calls
    report = stopped.value.report
    assert "the endpoint stopped answering" in str(stopped.value) and report.stopped
    assert report.created + report.failed > 0 and report.failed > 0  # what was made, and what was not
    assert (tmp_path / "state" / "shop" / "journal").is_dir()  # kept what it journaled


# --- credentials -----------------------------------------------------------------------------------------------

TOKEN = "tok-3f9c2a7d5e1b4c6a8d0f"


@pytest.mark.parametrize("env, named", [
    ({"TENCENTCLOUD_SECRET_ID": "AKIDexample0000", "TENCENTCLOUD_SECRET_KEY": None}, "TENCENTCLOUD_SECRET_KEY is not"),
    ({"TENCENTCLOUD_SECRET_ID": None, "TENCENTCLOUD_SECRET_KEY": "sk-0123456789abcdef"}, "TENCENTCLOUD_SECRET_ID is not"),
])
def test_exactly_one_credential_is_an_error_naming_the_missing_one(server: LocalServer, tmp_path: Path,
                                                                   env: dict[str, str | None], named: str) -> None:
    path = write(tmp_path, shop_text())
    for args in (["apply", "--yes", str(path), "--endpoint", server.endpoint], ["apply", "--yes", "--local", str(path)]):
        result = CliRunner().invoke(main, args, env={**env, "COSRECON_LOCAL_ROOT": str(tmp_path / "local")})
        assert result.exit_code == 1 and named in result.stderr  # no fall-back to the local server's public pair
        assert "sk-0123456789abcdef" not in result.stderr + result.stdout
    assert process_calls(server) == 0


@pytest.mark.parametrize("name, value", [
    ("TENCENTCLOUD_SECURITY_TOKEN", TOKEN + "\n"),
    ("TENCENTCLOUD_SECRET_KEY", " " + TOKEN),
    ("TENCENTCLOUD_SECRET_ID", TOKEN + "\r\n"),
])
def test_a_credential_with_whitespace_is_refused_without_printing_it(server: LocalServer, tmp_path: Path,
                                                                      name: str, value: str) -> None:
    path = write(tmp_path, shop_text())
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key, name: value}
    result = CliRunner().invoke(main, ["apply", "--yes", str(path), "--endpoint", server.endpoint], env=env)
    assert result.exit_code == 1 and name in result.stderr and "not shown" in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_no_error_message_carries_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.credentials import redact

    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "sk-0123456789abcdef")
    monkeypatch.setenv("TENCENTCLOUD_SECURITY_TOKEN", TOKEN)
    text = redact(f"Invalid header value b'{TOKEN}\\n' with sk-0123456789abcdef")
    assert TOKEN not in text and "sk-0123456789abcdef" not in text and text.count("<redacted>") == 2


def test_journal_segments_deleted_mid_run_are_reported(server: LocalServer, backend: Backend) -> None:
    seed(backend, MANY[:20])
    decl = declaration()

    class DeleteSegments(TakeOverAfter):
        def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None:
            self.seen += calls
            if self.seen >= 12 and self.thief is None:
                blobs = self.backend.ledgers.blobs(decl)
                names = blobs.list("journal/")
                for name in names:
                    blobs.delete(name)
                self.thief = names  # type: ignore[assignment]

    sink = DeleteSegments(backend, 12)
    options = ApplyOptions(parallelism=2, max_qps=0, progress=sink, journal_batch=4, journal_interval=0.01)
    report = apply_plan(make_plan([decl], backend), [decl], backend, options)
    assert sink.thief, "segments were written before the 12th call"
    assert any("journal segment(s) this run wrote were deleted while it ran" in w for w in report.warnings)
    assert not make_plan([decl], backend).has_changes  # nothing lost: the ledger was written from the run


def test_a_lost_lock_mid_apply_exits_1_naming_the_holder(server: LocalServer, backend: Backend,
                                                         tmp_path: Path) -> None:
    import time

    from test_apply_cli import _apply_process

    seed(backend, [f"photos/{i:02d}.jpg" for i in range(40)])
    path = write(tmp_path, shop_text())
    server.set_faults(latency_ms=150)
    proc = _apply_process(server, path, "--parallelism", "2")
    deadline = time.monotonic() + 30
    while process_calls(server) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    decl = declaration()
    holder = backend.ledgers.read_lock(decl)
    assert holder is not None
    backend.ledgers.unlock(decl, holder.id)  # its lease "ran out" and another apply took the set
    thief = backend.ledgers.acquire(decl, lease=600)
    ledger_before = backend.ledgers.blobs(decl).read("ledger.jsonl")
    out, err = proc.communicate(timeout=60)
    server.set_faults(latency_ms=0)
    assert proc.returncode == 1, out + err
    assert f"lost its lock {holder.id}" in err and f"held by lock {thief.info.id}" in err
    assert process_calls(server) < 40  # stopped calling
    assert backend.ledgers.blobs(decl).read("ledger.jsonl") == ledger_before  # no compaction over the new holder
    assert backend.ledgers.read_lock(decl).id == thief.info.id  # type: ignore[union-attr]
    thief.release()


def test_local_serve_refuses_one_credential_of_two(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["local", "serve", "--root", str(tmp_path / "srv"), "--port", "0"],
                                env={"TENCENTCLOUD_SECRET_ID": "AKIDexample0000", "TENCENTCLOUD_SECRET_KEY": None})
    assert result.exit_code == 1 and "TENCENTCLOUD_SECRET_KEY is not" in result.stderr
