"""What the local server does not implement is refused (COS's 501 NotImplemented) and changes nothing.

Walks COS sub-resources over PUT/GET/HEAD/POST/DELETE on an object and on a bucket, through HTTP with a valid
signature, and compares every bucket and object (bodies, ETags, headers) before and after."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import parse_qsl
from typing import Any

import pytest

from reconciler.local import LocalServer, routing
from reconciler.local.ruleparse import RuleError, parse_rule
from tests.local.hostile_http import signed_auth

BUCKET = "refuse-1250000000"
SUBRESOURCES = ["acl", "tagging", "cors", "lifecycle", "policy", "website", "domain", "inventory", "logging",
                "replication", "versioning", "versions", "versionId", "live", "restore", "select", "append",
                "style", "exif", "referer", "encryption", "object-lock", "accelerate", "intelligenttiering",
                "origin", "torrent", "position", "symlink"]
METHODS = ["PUT", "GET", "HEAD", "POST", "DELETE"]
BODY = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"


def signed(srv: LocalServer, method: str, key: str, query: str, body: bytes = b"") -> tuple[int, bytes]:
    host = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"
    auth = signed_auth(srv, method, key, {"host": host}, dict(parse_qsl(query, keep_blank_values=True)))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(method, "/" + key + ("?" + query if query else ""), body=body if method in ("PUT", "POST") else None,
                 headers={"Host": host, "Authorization": auth})
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, data


def snapshot(srv: LocalServer) -> dict[str, Any]:
    state: dict[str, Any] = {"buckets": [name for name, _ in srv.store.list_buckets()]}
    for name in state["buckets"]:
        for obj in srv.store.iter_all(name):
            found = srv.store.get(name, obj.key)
            assert found is not None
            state[f"{name}/{obj.key}"] = (obj.etag, obj.content_type, obj.meta, obj.size, found[1])
    return state


def implemented(subresource: str, method: str, key: str) -> bool:
    target = routing.Target.OBJECT if key else routing.Target.BUCKET
    return any(r.subresource == subresource and r.method == method and r.target is target for r in routing.ROUTES)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with LocalServer(tmp_path_factory.mktemp("refusals"), buckets=[BUCKET, "empty-1250000000"]) as server:
        server.store.put(BUCKET, "k.txt", b"precious", content_type="text/plain", meta={"x-cos-meta-a": "1"})
        server.store.put(BUCKET, "big.bin", b"x" * 100_000)
        yield server


@pytest.mark.parametrize("subresource", SUBRESOURCES)
def test_unimplemented_subresources_are_refused_and_change_nothing(srv: LocalServer, subresource: str) -> None:
    before = snapshot(srv)
    for method in METHODS:
        for key in ("k.txt", ""):
            if implemented(subresource, method, key):
                continue  # implemented since this list was written: its own tests cover it
            for query in (subresource, f"{subresource}=nosuch"):
                status, body = signed(srv, method, key, query, BODY)
                where = f"{method} /{key}?{query}"
                assert status == 501, where
                if method != "HEAD":
                    assert b"<Code>NotImplemented</Code>" in body and subresource.encode() in body, where
    assert snapshot(srv) == before
    # an empty bucket survives DELETE /?<sub-resource> too
    assert implemented(subresource, "DELETE", "") or signed(srv, "DELETE", "", subresource)[0] == 501
    assert srv.store.bucket_exists("empty-1250000000")


def test_the_issue_cases_lose_nothing(srv: LocalServer) -> None:
    before = snapshot(srv)
    assert signed(srv, "PUT", "k.txt", "acl")[0] == 501                     # put_object_acl, empty body
    assert signed(srv, "PUT", "k.txt", "tagging", BODY)[0] == 501           # put_object_tagging
    assert signed(srv, "DELETE", "k.txt", "tagging")[0] == 501
    assert signed(srv, "DELETE", "k.txt", "uploadId=nosuch")[0] == 404      # NoSuchUpload, not a delete
    assert signed(srv, "GET", "", "location")[0] == 501
    assert signed(srv, "GET", "k.txt", "versionId=nosuch")[0] == 501
    assert signed(srv, "GET", "k.txt", "response-bogus=1")[0] == 501
    assert signed(srv, "PUT", "k.txt", "partNumber=1")[0] == 501            # a part without an upload id
    assert snapshot(srv) == before


def test_unknown_ci_process_parameters_are_refused(srv: LocalServer, tmp_path: Path) -> None:
    status, body = signed(srv, "GET", "k.txt", "ci-process=AIImageColoring&bogus=1")
    assert status == 400 and b"bogus" in body
    status, body = signed(srv, "GET", "k.txt", "ci-process=NoSuchProcess")
    assert status == 400 and b"NoSuchProcess" in body
    status, body = signed(srv, "GET", "k.txt", "imageMogr2/thumbnail/10x&acl")
    assert status == 501 and b"acl" in body
    with pytest.raises(RuleError, match="bogus"):  # the same grammar serves Pic-Operations rules
        parse_rule("ci-process=AIImageColoring&bogus=1")
    assert parse_rule("ci-process=AIEnhanceImage&denoise=3&sharpen=1").steps[0].name == "AIEnhanceImage"


def _auth(srv: LocalServer, method: str, key: str, params: dict[str, str] | None = None) -> str:
    """Host and every query parameter signed, as the server requires."""
    return signed_auth(srv, method, key, {"host": f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"}, params)


def test_refused_chunked_bodies_are_drained_and_the_connection_kept(srv: LocalServer) -> None:
    host = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("PUT", "/k.txt?acl", body=iter([b"<AccessControlPolicy/>"]), encode_chunked=True,
                 headers={"Host": host, "Authorization": _auth(srv, "PUT", "k.txt", {"acl": ""}),
                          "Transfer-Encoding": "chunked"})
    refused = conn.getresponse()
    assert (refused.status, refused.getheader("Connection")) == (501, None)
    refused.read()
    conn.request("GET", "/k.txt", headers={"Host": host, "Authorization": _auth(srv, "GET", "k.txt")})
    kept = conn.getresponse()  # the same connection
    assert (kept.status, kept.read(), kept.getheader("Connection")) == (200, b"precious", None)
    conn.close()


def test_a_reply_before_closing_says_connection_close(srv: LocalServer) -> None:
    """A malformed chunked body leaves the connection unusable: the server closes it, and says so."""
    host = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest("PUT", "/broken.txt", skip_host=True, skip_accept_encoding=True)
    for name, value in (("Host", host), ("Authorization", _auth(srv, "PUT", "broken.txt")),
                        ("Transfer-Encoding", "chunked")):
        conn.putheader(name, value)
    conn.endheaders(b"3\r\nabc\r\nzz\r\n")
    reply = conn.getresponse()
    assert (reply.status, reply.getheader("Connection")) == (400, "close")
    assert b"IncompleteBody" in reply.read()
    conn.close()
    assert srv.store.head(BUCKET, "broken.txt") is None


def test_ambiguous_body_framing_is_refused(srv: LocalServer) -> None:
    host = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest("PUT", "/framed.txt", skip_host=True, skip_accept_encoding=True)
    for name, value in (("Host", host), ("Authorization", _auth(srv, "PUT", "framed.txt")),
                        ("Content-Length", "3"), ("Transfer-Encoding", "chunked")):
        conn.putheader(name, value)
    conn.endheaders(b"3\r\nabc\r\n0\r\n\r\n")
    reply = conn.getresponse()
    assert (reply.status, reply.getheader("Connection")) == (400, "close")
    assert b"Transfer-Encoding" in reply.read()
    conn.close()
    assert srv.store.head(BUCKET, "framed.txt") is None
