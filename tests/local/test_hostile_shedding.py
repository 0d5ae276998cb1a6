"""Idle unauthenticated connections are shed first when the connection cap nears (issue 22): 600 half-open
connections, which need no credentials, no longer make the server answer 503 to a signed client; a connection
that carried an authenticated request is never shed; only a table full of connections that are not sheddable
answers 503. Real sockets against an in-process server with the default limits (512 connections, shedding from
448 on)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.local import LocalServer
from reconciler.local.connection import ConnectionLimits
from reconciler.local.shedding import ConnectionTable
from tests.local.conftest import make_client
from tests.local.hostile_http import closed_within, connect, host_of, read_reply, signed_auth

BUCKET = "shed-1250000000"


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(tmp_path, buckets=[BUCKET]) as server:  # default limits: 30 s header deadline, 512 / 448
        yield server


def _open_half_open(srv: LocalServer, count: int) -> list[socket.socket]:
    """``count`` connections that never finish a request: half send nothing, half a partial request line."""
    socks = []
    for number in range(count):
        sock = connect(srv, timeout=5)
        if number % 2:
            sock.sendall(b"GET / HT")
        socks.append(sock)
    return socks


def _wait_for(predicate: object, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_600_half_open_connections_do_not_lock_out_a_signed_client(srv: LocalServer) -> None:
    table = srv.connections
    assert table is not None and (table.max_connections, table.shed_at) == (512, 448)
    idle = _open_half_open(srv, 600)
    try:
        _wait_for(lambda: table.shed_total >= 600 - 448)  # every one accepted, the oldest shed
        assert len(table) <= 448
        client = make_client(srv)
        started = time.monotonic()
        client.put_object(Bucket=BUCKET, Key="signed.txt", Body=b"made by a signed client")
        assert client.get_object(Bucket=BUCKET, Key="signed.txt")["Body"].get_raw_stream().read() == \
            b"made by a signed client"
        assert time.monotonic() - started < 5
        shed = sum(closed_within(sock, 0.01) for sock in idle)
        assert shed >= 600 - 448  # the oldest half-open ones were closed, not the signed client's
    finally:
        for sock in idle:
            sock.close()


def test_an_authenticated_connection_is_never_shed(srv: LocalServer) -> None:
    table = srv.connections
    assert table is not None
    with connect(srv) as signed:
        auth = signed_auth(srv, "HEAD", "", {"host": host_of(BUCKET)})
        request = f"HEAD / HTTP/1.1\r\nHost: {host_of(BUCKET)}\r\nAuthorization: {auth}\r\n\r\n".encode()
        signed.sendall(request)
        assert read_reply(signed, "HEAD")[0] == 200  # now idle on keep-alive, but authenticated
        idle = _open_half_open(srv, 600)  # opened after it: the signed connection is the oldest
        try:
            _wait_for(lambda: table.shed_total >= 600 - 448 + 1)
            signed.sendall(request)  # the same connection still serves
            assert read_reply(signed, "HEAD")[0] == 200
        finally:
            for sock in idle:
                sock.close()


def test_a_table_of_authenticated_connections_still_answers_503(tmp_path: Path) -> None:
    limits = ConnectionLimits(header_seconds=5.0, max_connections=4, shed_at=3)
    with LocalServer(tmp_path, buckets=[BUCKET], limits=limits) as srv:
        auth = signed_auth(srv, "HEAD", "", {"host": host_of(BUCKET)})
        held = []
        try:
            for _ in range(4):
                sock = connect(srv)
                sock.sendall(f"HEAD / HTTP/1.1\r\nHost: {host_of(BUCKET)}\r\nAuthorization: {auth}\r\n\r\n".encode())
                assert read_reply(sock, "HEAD")[0] == 200
                held.append(sock)
            with connect(srv) as extra:
                status, headers, body = read_reply(extra)
            assert status == 503 and b"<Code>SlowDown</Code>" in body and headers["connection"] == "close"
        finally:
            for sock in held:
                sock.close()


def test_the_table_sheds_the_oldest_idle_unauthenticated_first() -> None:
    pairs = [socket.socketpair() for _ in range(7)]
    try:
        a, b, c, d, e, f, g = (server for server, _ in pairs)
        table = ConnectionTable(max_connections=4, shed_at=3, clock=iter(range(100)).__next__)
        assert table.admit(a) and table.admit(b) and table.admit(c)
        table.busy(a, True, authenticated=True)
        table.busy(a, False)  # idle again, but authenticated: never shed
        table.busy(b, True)  # serving a request: not shed meanwhile
        assert table.admit(d)  # 3 held: sheds the oldest sheddable one, c
        assert table.shed_total == 1 and closed_within(pairs[2][1], 1.0) and len(table) == 3
        table.busy(d, True, authenticated=True)
        assert table.admit(e) and len(table) == 4  # nothing sheddable, but below the cap
        assert table.admit(f) and table.shed_total == 2 and closed_within(pairs[4][1], 1.0)  # e shed for f
        table.busy(f, True)
        assert not table.admit(g) and len(table) == 4  # full, nothing sheddable: refused (503)
        table.release(b)
        assert table.admit(g)
    finally:
        for one, two in pairs:
            one.close()
            two.close()
