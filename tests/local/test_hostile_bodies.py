"""Chunked bodies are bounded on every path (issue 22): a chunk size that is negative, not hexadecimal or
larger than what the request may still send is a 400 at once, over a real socket, and nothing is stored.

Before, a chunk size of ``-1`` made the server read the rest of the stream into memory (300 MB sent: about
1.2 GB resident) and then answer a wrong BadDigest. The server here keeps its default, long deadlines, so a
reply that comes at once cannot be a timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.local import LocalServer
from reconciler.local.connection import ConnectionLimits
from reconciler.local.protocol import BUFFER, MAX_BODY, ChunkedReader
from tests.local.conftest import jpeg
from tests.local.hostile_http import closed_within, connect, host_of, read_reply, signed_auth

BUCKET = "chunks-1250000000"
LIMITS = ConnectionLimits(linger_seconds=0.3)  # every deadline at its default (30 s and more)


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(tmp_path, buckets=[BUCKET], limits=LIMITS, ci_qps=0) as server:
        yield server


def _head(srv: LocalServer, key: str, extra: dict[str, str]) -> bytes:
    headers = {"Transfer-Encoding": "chunked", **extra}
    auth = signed_auth(srv, "PUT", key, {"host": host_of(BUCKET), **{k.lower(): v for k, v in headers.items()}})
    lines = [f"PUT /{key} HTTP/1.1", f"Host: {host_of(BUCKET)}", *(f"{k}: {v}" for k, v in headers.items()),
             f"Authorization: {auth}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send_then_reply(srv: LocalServer, key: str, size_line: bytes, extra: dict[str, str] | None = None,
                     *, more: int = 0) -> tuple[int, bytes, float]:
    """Send a chunked PUT whose first chunk-size line is ``size_line`` followed by 64 KiB (and, from a thread,
    ``more`` bytes, as a client streaming a big body would), without ending the body; the reply and how long it
    took."""
    with connect(srv, timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(_head(srv, key, extra or {}) + size_line + b"\r\n" + b"x" * 65536)
        if more:
            def stream() -> None:
                try:
                    for _ in range(more // 65536):
                        sock.sendall(b"x" * 65536)
                except OSError:
                    pass  # the server closed: what a refused body's sender sees
            threading.Thread(target=stream, daemon=True).start()
        status, headers, body = read_reply(sock, "PUT")
        took = time.monotonic() - start
        assert headers["connection"] == "close"
        assert closed_within(sock, 3.0)
    return status, body, took


@pytest.mark.parametrize("size_line", [b"-1", b"-0", b"+10", b"0x10", b"1_0", b"zz", b"", b" ", b"1 0",
                                       b"\xd9\xa1",  # an Arabic-Indic digit one, which int() accepts
                                       b"1" * 17])
def test_a_malformed_chunk_size_is_a_400_at_once(srv: LocalServer, size_line: bytes) -> None:
    status, body, took = _send_then_reply(srv, "bad.bin", size_line)
    assert status == 400 and b"<Code>IncompleteBody</Code>" in body, body
    assert took < 5  # not the 30 s body deadline: nothing waited for the rest of the stream
    assert srv.store.head(BUCKET, "bad.bin") is None


def test_a_negative_chunk_size_never_reads_the_stream(srv: LocalServer) -> None:
    """The attack of issue 22: ``-1`` followed by a stream that goes on (32 MiB here)."""
    status, body, took = _send_then_reply(srv, "minus-one.bin", b"-1", more=32 * 1024 ** 2)
    assert status == 400 and b"chunk size '-1' is not hexadecimal" in body
    assert took < 5
    assert srv.store.head(BUCKET, "minus-one.bin") is None


def test_a_chunk_over_the_plain_put_allowance_is_refused_before_reading(srv: LocalServer) -> None:
    status, body, took = _send_then_reply(srv, "huge.bin", f"{MAX_BODY + 1:x}".encode(), more=8 * 1024 ** 2)
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in body
    assert took < 5 and srv.store.head(BUCKET, "huge.bin") is None


def test_a_chunk_over_the_processing_input_limit_is_refused_before_reading(srv: LocalServer) -> None:
    """PUT with Pic-Operations takes at most 32 MB: a first chunk announcing 33 MB is refused before any of it."""
    ops = '{"is_pic_info":0,"rules":[{"fileid":"out.jpg","rule":"imageMogr2/thumbnail/8x"}]}'
    status, body, took = _send_then_reply(srv, "pic.jpg", f"{33 * 1024 ** 2:x}".encode(),
                                          {"Pic-Operations": ops}, more=8 * 1024 ** 2)
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in body
    assert took < 5
    assert srv.store.head(BUCKET, "pic.jpg") is None and srv.store.head(BUCKET, "out.jpg") is None


def test_chunks_adding_up_past_the_allowance_are_refused_at_the_chunk_that_crosses_it() -> None:
    class Stream:
        def __init__(self) -> None:
            self.asked: list[int] = []

        def read(self, size: int = -1, /) -> bytes:
            self.asked.append(size)
            return b"x" * size

    lines = iter([b"a\r\n", b"\r\n", b"7\r\n"])
    stream = Stream()
    reader = ChunkedReader(stream, lambda: next(lines), limit=16)
    assert reader.read(10) == b"x" * 10
    with pytest.raises(Exception) as exc:
        reader.read(10)
    assert getattr(exc.value, "code", "") == "EntityTooLarge" and stream.asked == [10]


def test_no_read_asks_the_socket_for_more_than_the_buffer() -> None:
    asked: list[int] = []

    class Stream:
        def read(self, size: int = -1, /) -> bytes:
            asked.append(size)
            return b"x" * size

    lines = iter([f"{3 * BUFFER:x}\r\n".encode(), b"\r\n", b"0\r\n", b"\r\n"])
    assert len(ChunkedReader(Stream(), lambda: next(lines)).read()) == 3 * BUFFER
    assert asked and max(asked) <= BUFFER


def test_a_well_formed_chunked_put_with_extensions_still_works(srv: LocalServer) -> None:
    data = jpeg(32, 32)
    with connect(srv) as sock:
        sock.sendall(_head(srv, "ok.jpg", {}) + f"{len(data):X};name=value\r\n".encode() + data + b"\r\n0\r\n\r\n")
        status, _, _ = read_reply(sock, "PUT")
    assert status == 200
    stored = srv.store.head(BUCKET, "ok.jpg")
    assert stored is not None and stored.size == len(data)
