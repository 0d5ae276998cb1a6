"""Connections that try to hold or fill the local server (issue 15): unauthenticated bodies are not read,
slow bodies and slowloris headers hit their deadlines, the connection cap answers 503, bodies of image_process,
copy, POST ?delete and PUT with Pic-Operations are refused before reading when too big, and what http.server
refuses before routing is a COS XML 4xx. The server here has sub-second limits, so nothing waits long."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from reconciler.local.connection import MAX_DELETE_BODY, ConnectionLimits
from reconciler.local.imaging import MAX_INPUT_BYTES
from tests.local.conftest import jpeg, make_client
from tests.local.hostile_http import closed_within, connect, host_of, read_reply, signed_auth

BUCKET = "conn-1250000000"
LIMITS = ConnectionLimits(read_timeout=0.5, header_seconds=1.0, body_base_seconds=1.0, body_min_rate=1e9,
                          linger_seconds=0.3, max_connections=6)


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(tmp_path, buckets=[BUCKET], limits=LIMITS) as server:
        yield server


def _head(method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _signed_head(srv: LocalServer, method: str, key: str, headers: dict[str, str],
                 params: dict[str, str] | None = None, query: str = "") -> bytes:
    signed = {"host": host_of(BUCKET), **{k.lower(): v for k, v in headers.items()}}
    auth = signed_auth(srv, method, key, signed, params)
    return _head(method, f"/{key}{query}", {"Host": host_of(BUCKET), **headers, "Authorization": auth})


def test_unauthenticated_body_is_not_read(srv: LocalServer) -> None:
    with connect(srv) as sock:
        sock.sendall(_head("PUT", "/big.bin", {"Host": host_of(BUCKET), "Content-Length": str(64 * 1024 ** 2)}))
        sock.sendall(b"x" * 10)  # the client would go on for 64 MB; the server answers without waiting for it
        status, headers, body = read_reply(sock)
        assert status == 403 and b"<Code>AccessDenied</Code>" in body and headers["connection"] == "close"
        assert closed_within(sock, 2.0)
    assert srv.store.head(BUCKET, "big.bin") is None


def test_wrong_signature_with_a_small_body_still_gets_its_403(srv: LocalServer) -> None:
    client = make_client(srv, secret_key="not-the-key")
    for _ in range(5):  # the reply must not be lost to a reset from closing with unread data
        with pytest.raises(Exception) as exc:
            client.put_object(Bucket=BUCKET, Key="k", Body=b"y" * 200_000)
        assert getattr(exc.value, "get_status_code", lambda: None)() == 403


def test_a_one_byte_per_tick_body_hits_its_deadline(srv: LocalServer) -> None:
    start = time.monotonic()
    with connect(srv) as sock:
        sock.sendall(_signed_head(srv, "PUT", "slow.bin", {"Content-Length": "100"}))
        closed = False
        for _ in range(40):  # 1 byte every 0.1 s would take 10 s; the body deadline is 1 s
            try:
                sock.sendall(b"x")
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            if closed_within(sock, 0.01):
                closed = True
                break
        assert closed and time.monotonic() - start < 3
    assert srv.store.head(BUCKET, "slow.bin") is None


def test_slowloris_headers_hit_the_header_deadline(srv: LocalServer) -> None:
    start = time.monotonic()
    with connect(srv) as sock:
        head = _head("GET", "/k", {"Host": host_of(BUCKET), **{f"X-Pad-{i}": "p" for i in range(50)}})
        closed = False
        for byte in head:  # each byte comes well within read_timeout; the whole never completes in time
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            if closed_within(sock, 0.05):
                closed = True
                break
        assert closed and time.monotonic() - start < 3


def test_connection_cap_answers_503_then_recovers(srv: LocalServer) -> None:
    """A table full of authenticated keep-alive connections (never shed: tests/local/test_hostile_shedding.py)
    answers 503 to one more; they end at the idle (header) deadline and the server serves again."""
    idle = []
    try:
        for _ in range(LIMITS.max_connections):
            sock = connect(srv)
            sock.sendall(_signed_head(srv, "HEAD", "", {}))
            assert read_reply(sock, "HEAD")[0] == 200
            idle.append(sock)
        with connect(srv) as extra:
            status, headers, body = read_reply(extra)
            assert status == 503 and b"<Code>SlowDown</Code>" in body and headers["connection"] == "close"
        assert all(closed_within(sock, 2.0) for sock in idle)  # idle connections end at the header deadline
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 3
    while True:
        try:
            make_client(srv).head_bucket(Bucket=BUCKET)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.parametrize("case", ["image_process", "copy", "delete", "pic_put"])
def test_big_bodies_are_refused_or_skipped_without_reading(srv: LocalServer, case: str) -> None:
    make_client(srv).put_object(Bucket=BUCKET, Key="src.jpg", Body=jpeg(32, 32))
    ops = '{"rules":[{"fileid":"out.jpg","rule":"imageMogr2/thumbnail/8x"}]}'
    huge = str(10 ** 9)
    request = {
        "image_process": lambda: _signed_head(srv, "POST", "src.jpg", {"Pic-Operations": ops, "Content-Length": huge},
                                              {"image_process": ""}, "?image_process"),
        "copy": lambda: _signed_head(srv, "PUT", "copy.jpg", {"x-cos-copy-source": f"{host_of(BUCKET)}/src.jpg",
                                                              "Content-Length": huge}),
        "delete": lambda: _signed_head(srv, "POST", "", {"Content-Length": str(MAX_DELETE_BODY + 1)},
                                       {"delete": ""}, "?delete"),
        "pic_put": lambda: _signed_head(srv, "PUT", "up.jpg", {"Pic-Operations": ops,
                                                               "Content-Length": str(MAX_INPUT_BYTES + 1)}),
    }[case]()
    with connect(srv) as sock:
        sock.sendall(request)  # headers only: a server that read the body would wait for it and time out
        status, headers, body = read_reply(sock)
    expected = {"image_process": 200, "copy": 200, "delete": 400, "pic_put": 400}[case]
    assert status == expected, body
    assert headers["connection"] == "close"  # the unread body makes the connection unusable
    if expected == 400:
        assert b"<Code>EntityTooLarge</Code>" in body


def test_what_http_server_refuses_is_a_cos_xml_4xx(srv: LocalServer) -> None:
    cases = [(b"GARBAGE\r\n\r\n", 400), (_head("PATCH", "/k", {"Host": host_of(BUCKET)}), 405),
             (_head("GET", "/k", {"Host": host_of(BUCKET), **{f"X-H{i}": "v" for i in range(120)}}), 431),
             (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414)]
    for request, expected in cases:
        with connect(srv) as sock:
            sock.sendall(request)
            status, _, body = read_reply(sock)
        assert status == expected and b"<Error><Code>" in body


def test_keep_alive_still_works_after_a_small_unread_body(srv: LocalServer) -> None:
    session = requests.Session()
    host = host_of(BUCKET)
    for _ in range(3):  # DELETE with a body the route ignores: drained, connection kept
        auth = signed_auth(srv, "DELETE", "nothing", {"host": host, "content-length": "5"})
        reply = session.delete(f"{srv.endpoint}/nothing", data=b"12345", headers={"Host": host, "Authorization": auth})
        assert reply.status_code == 204 and reply.headers.get("Connection") != "close"


def test_a_source_over_the_input_limit_is_refused_before_it_is_read(server: LocalServer, client: Any, bucket: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    srv = server  # normal limits: the 32 MB upload must not race the short deadlines of ``srv``
    client.put_object(Bucket=bucket, Key="huge.jpg", Body=jpeg(16, 16) + b"\0" * (MAX_INPUT_BYTES + 1))
    read: list[str] = []
    real_get = srv.store.get

    def recording_get(bucket: str, key: str) -> Any:
        read.append(key)
        return real_get(bucket, key)

    monkeypatch.setattr(srv.store, "get", recording_get)
    ops = '{"rules":[{"fileid":"out.jpg","rule":"imageMogr2/thumbnail/8x"}]}'
    with pytest.raises(CosServiceError) as exc:
        client.ci_image_process(Bucket=bucket, Key="huge.jpg", PicOperations=ops)
    assert exc.value.get_status_code() == 400 and "input limit" in exc.value.get_origin_msg()
    with pytest.raises(CosServiceError):
        client.ci_get_object(Bucket=bucket, Key="huge.jpg", DestImagePath=os.devnull, Rule="imageMogr2/thumbnail/8x")
    assert read == []


def test_a_chunked_body_is_bounded_too(srv: LocalServer) -> None:
    head = _signed_head(srv, "POST", "", {"Transfer-Encoding": "chunked"}, {"delete": ""}, "?delete")
    chunk = b"<Delete>" + b"x" * (MAX_DELETE_BODY + 10)
    with connect(srv) as sock:
        sock.sendall(head + f"{len(chunk):x}\r\n".encode())  # refused from the chunk's size, before its bytes
        try:
            sock.sendall(chunk + b"\r\n0\r\n\r\n")
        except OSError:
            pass  # the server closed after answering
        status, headers, body = read_reply(sock, "POST")
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in body and headers["connection"] == "close"


def test_a_slow_chunked_body_hits_its_deadline(srv: LocalServer) -> None:
    start = time.monotonic()
    with connect(srv) as sock:
        sock.sendall(_signed_head(srv, "PUT", "slow-chunked.bin", {"Transfer-Encoding": "chunked"}))
        closed = False
        for _ in range(40):  # a 1-byte chunk every 0.1 s; the chunked deadline is 1 s plus what arrived
            try:
                sock.sendall(b"1\r\nx\r\n")
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            if closed_within(sock, 0.01):
                closed = True
                break
        assert closed and time.monotonic() - start < 3
    assert srv.store.head(BUCKET, "slow-chunked.bin") is None
