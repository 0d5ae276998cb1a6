"""Routes called without a socket: a request value in, a response value out, the store changed (or not)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reconciler.local import routing
from reconciler.credentials import Credentials
from reconciler.local.context import ServerState
from reconciler.local.faults import Faults, FaultSettings, Stats
from reconciler.local.protocol import Request, RequestBody, Response
from reconciler.local.store import LocalStore
from reconciler.local.uploads import Uploads

BUCKET = "routes-1250000000"


@pytest.fixture
def state(tmp_path: Path) -> ServerState:
    store = LocalStore(tmp_path)
    store.create_bucket(BUCKET)
    return ServerState(store, Credentials("id", "key"), Faults(FaultSettings(ci_qps=0)), Stats(), Uploads(store))


def request(method: str, key: str = "", body: bytes | None = None, query: list[tuple[str, str]] | None = None,
            headers: dict[str, str] | None = None, bucket: str | None = BUCKET) -> Request:
    query = query or []
    host = f"{bucket}.cos.ap-guangzhou.myqcloud.com" if bucket else "service.cos.myqcloud.com"
    all_headers = {"host": host, **(headers or {})}
    if body is not None:
        all_headers["content-length"] = str(len(body))
    return Request(method, bucket, "ap-guangzhou", host, key, query, all_headers, params=dict(query),
                   body=RequestBody(io.BytesIO(body or b""), None if body is None else len(body)),
                   request_id="test-request")


def body_of(response: Response) -> bytes:
    """A reply's body, joined if it is streamed."""
    return response.body if isinstance(response.body, bytes) else b"".join(response.body)


def test_put_then_get_returns_the_body_and_its_headers(state: ServerState) -> None:
    put = routing.handle(state, request("PUT", "a/b.txt", b"hello", headers={"content-type": "text/plain"}))
    assert put.status == 200
    assert put.headers["ETag"] == '"5d41402abc4b2a76b9719d911017c592"'
    got = routing.handle(state, request("GET", "a/b.txt"))
    assert (got.status, body_of(got), got.headers["Content-Type"]) == (200, b"hello", "text/plain")
    assert got.content_length() == 5


def test_head_announces_the_length_without_a_body(state: ServerState) -> None:
    routing.handle(state, request("PUT", "k", b"12345678"))
    head = routing.handle(state, request("HEAD", "k"))
    assert (head.status, head.body, head.content_length()) == (200, b"", 8)


def test_a_missing_key_is_an_xml_error_naming_the_resource(state: ServerState) -> None:
    reply = routing.handle(state, request("GET", "nope"))
    assert reply.status == 404
    assert isinstance(reply.body, bytes)
    assert b"<Code>NoSuchKey</Code>" in reply.body
    assert f"<Resource>{BUCKET}.cos.ap-guangzhou.myqcloud.com/nope</Resource>".encode() in reply.body
    assert b"<RequestId>test-request</RequestId>" in reply.body
    assert state.stats.snapshot()["error:NoSuchKey"] == 1


def test_bucket_listing_and_multi_delete(state: ServerState) -> None:
    for key in ("x/1", "x/2", "y"):
        routing.handle(state, request("PUT", key, key.encode()))
    listing = routing.handle(state, request("GET", query=[("prefix", "x/"), ("encoding-type", "url")]))
    assert isinstance(listing.body, bytes)
    assert listing.body.count(b"<Contents>") == 2
    xml = b"<Delete><Quiet>true</Quiet><Object><Key>x/1</Key></Object><Object><Key>y</Key></Object></Delete>"
    deleted = routing.handle(state, request("POST", query=[("delete", "")], body=xml))
    assert deleted.status == 200
    assert [o.key for o in state.store.iter_all(BUCKET)] == ["x/2"]


def test_service_listing_and_a_request_without_a_bucket(state: ServerState) -> None:
    listing = routing.handle(state, request("GET", bucket=None))
    assert isinstance(listing.body, bytes) and f"<Name>{BUCKET}</Name>".encode() in listing.body
    assert routing.handle(state, request("GET", "k", bucket=None)).status == 400


def test_head_errors_have_no_body(state: ServerState) -> None:
    reply = routing.handle(state, request("HEAD", "missing"))
    assert (reply.status, reply.body, reply.content_length()) == (404, b"", 0)


def test_refusals_happen_before_the_store_is_touched(state: ServerState) -> None:
    routing.handle(state, request("PUT", "k", b"keep me"))
    acl = routing.handle(state, request("PUT", "k", b"", query=[("acl", "")]))
    assert acl.status == 501 and isinstance(acl.body, bytes) and b"'acl'" in acl.body
    assert body_of(routing.handle(state, request("GET", "k"))) == b"keep me"
    assert routing.handle(state, request("DELETE", "", query=[("cors", "")])).status == 501
    assert state.store.bucket_exists(BUCKET)


def test_encoding_type_other_than_url_is_refused(state: ServerState) -> None:
    reply = routing.handle(state, request("GET", query=[("encoding-type", "xml")]))
    assert reply.status == 400 and isinstance(reply.body, bytes) and b"encoding-type" in reply.body


def test_a_chunked_body_is_read_to_its_end(state: ServerState) -> None:
    wire = io.BytesIO(b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\nNEXT")
    req = request("PUT", "chunked")
    req.body = RequestBody(wire, None, wire.readline)
    assert routing.handle(state, req).status == 200
    assert body_of(routing.handle(state, request("GET", "chunked"))) == b"abcdefg"
    assert wire.read() == b"NEXT"  # the next request on the connection is untouched


def test_seeded_objects_get_their_crc_when_read(state: ServerState) -> None:
    state.store.put_many(BUCKET, [("seeded.bin", b"123456789"), ("big.bin", b"y" * 100_000)])
    assert routing.handle(state, request("HEAD", "seeded.bin")).headers["x-cos-hash-crc64ecma"] == "11051210869376104954"
    assert routing.handle(state, request("GET", "seeded.bin")).headers["x-cos-hash-crc64ecma"] == "11051210869376104954"
    routing.handle(state, request("PUT", "put.bin", b"123456789"))
    assert routing.handle(state, request("HEAD", "put.bin")).headers["x-cos-hash-crc64ecma"] == "11051210869376104954"
    big = routing.handle(state, request("HEAD", "big.bin"))
    assert (big.body, big.content_length()) == (b"", 100_000) and big.headers["x-cos-hash-crc64ecma"].isdigit()


def test_large_bodies_are_streamed_and_ranges_read_from_the_file(state: ServerState) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, stored as a file
    routing.handle(state, request("PUT", "big", data))
    whole = routing.handle(state, request("GET", "big"))
    assert not isinstance(whole.body, bytes) and body_of(whole) == data
    part = routing.handle(state, request("GET", "big", headers={"range": "bytes=1000-1999"}))
    assert (part.status, part.content_length(), body_of(part)) == (206, 1000, data[1000:2000])


def test_a_method_a_target_never_supports_is_method_not_allowed(state: ServerState) -> None:
    assert routing.handle(state, request("POST", "k", b"")).status == 405
    assert routing.handle(state, request("POST", "", b"")).status == 405
    assert routing.handle(state, request("POST", "k", b"", query=[("append", ""), ("position", "0")])).status == 501
