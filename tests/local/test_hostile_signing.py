"""Signature binding attacks (issue 15): a signature for one bucket, key, rule or parameter set cannot be
stretched to another. Duplicate Host, unsigned host, unsigned or tampered query parameters (processing rules,
``response-*``), unsigned action headers, malformed signature fields: all refused with 400/403, nothing done."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qcloud_cos import CosConfig, CosS3Client

from reconciler.local import LocalServer
from reconciler.credentials import Credentials
from reconciler.local.auth import AuthFailure, request_headers, verify
from tests.local.conftest import REGION, jpeg
from tests.local.hostile_http import host_of as _host
from tests.local.hostile_http import raw as _raw
from tests.local.hostile_http import signed_auth as _auth


def _presigned(server: LocalServer, bucket: str, key: str, method: str = "GET", **kwargs: Any) -> str:
    cloud = CosS3Client(CosConfig(Region=REGION, SecretId=server.secret_id, SecretKey=server.secret_key,
                                  Scheme="http"), retry=0)
    parts = urlsplit(str(cloud.get_presigned_url(Bucket=bucket, Key=key, Method=method, **kwargs)))
    return urlunsplit(("http", f"127.0.0.1:{server.port}", parts.path, parts.query, ""))


@pytest.fixture
def two_buckets(server: LocalServer, client: Any, bucket: str) -> tuple[str, str]:
    other = bucket.replace("-", "b-", 1)
    client.create_bucket(Bucket=other)
    client.put_object(Bucket=bucket, Key="k.txt", Body=b"in A")
    client.put_object(Bucket=other, Key="k.txt", Body=b"in B")
    return bucket, other


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_two_host_headers_are_refused_in_either_order(server: LocalServer, client: Any,
                                                       two_buckets: tuple[str, str], method: str) -> None:
    a, b = two_buckets
    for first, last in ((a, b), (b, a)):
        auth = _auth(server, method, "k.txt", {"host": _host(last)})
        status, body = _raw(server, method, "/k.txt", [("Host", _host(first)), ("Host", _host(last)),
                                                        ("Authorization", auth), ("Content-Length", "1")], b"x")
        assert status == 400 and b"<Code>InvalidArgument</Code>" in body and b"host" in body
    for name in (a, b):
        assert client.get_object(Bucket=name, Key="k.txt")["Body"].get_raw_stream().read() == (
            b"in A" if name == a else b"in B")


def test_signed_host_must_be_the_served_host(server: LocalServer, two_buckets: tuple[str, str]) -> None:
    a, b = two_buckets
    auth = _auth(server, "GET", "k.txt", {"host": _host(a)})
    assert _raw(server, "GET", "/k.txt", [("Host", _host(a)), ("Authorization", auth)]) == (200, b"in A")
    status, body = _raw(server, "GET", "/k.txt", [("Host", _host(b)), ("Authorization", auth)])
    assert status == 403 and b"SignatureDoesNotMatch" in body
    status, body = _raw(server, "GET", f"http://{_host(b)}/k.txt", [("Host", _host(a)), ("Authorization", auth)])
    assert status == 400 and b"in B" not in body


def test_a_signature_without_host_is_refused(server: LocalServer, two_buckets: tuple[str, str]) -> None:
    a, _ = two_buckets
    auth = _auth(server, "GET", "k.txt", {})
    status, body = _raw(server, "GET", "/k.txt", [("Host", _host(a)), ("Authorization", auth)])
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"host" in body


def test_unsigned_query_parameters_are_refused(server: LocalServer, two_buckets: tuple[str, str]) -> None:
    a, _ = two_buckets
    auth = _auth(server, "GET", "k.txt", {"host": _host(a)})
    for query in ("response-content-type=text/html", "imageMogr2/thumbnail/10x", "acl", "prefix=k"):
        status, body = _raw(server, "GET", f"/k.txt?{query}", [("Host", _host(a)), ("Authorization", auth)])
        assert status == 403 and b"q-url-param-list" in body, query
    signed = _auth(server, "GET", "k.txt", {"host": _host(a)}, {"response-content-type": "text/plain"})
    status, body = _raw(server, "GET", "/k.txt?response-content-type=text/plain",
                        [("Host", _host(a)), ("Authorization", signed)])
    assert (status, body) == (200, b"in A")
    status, _ = _raw(server, "GET", "/k.txt?response-content-type=text/html",
                     [("Host", _host(a)), ("Authorization", signed)])
    assert status == 403
    status, body = _raw(server, "GET", "/k.txt?response-content-type=text/plain&Response-Content-Type=text/html",
                        [("Host", _host(a)), ("Authorization", signed)])
    assert status == 400 and b"more than once" in body


def test_presigned_rule_cannot_be_turned_into_another(server: LocalServer, client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="x.jpg", Body=jpeg(64, 48))
    url = _presigned(server, bucket, "x.jpg", Params={"imageMogr2/thumbnail/10x": ""})
    reply = requests.get(url, headers={"Host": _host(bucket)}, timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("image/")
    for tampered in (url.replace("10x", "2000x"),
                     url.replace("imageMogr2%2Fthumbnail%2F10x", "imageMogr2%2Frotate%2F45"),
                     url + "&imageMogr2/rotate/45", url + "&response-content-type=text%2Fhtml"):
        assert tampered != url
        reply = requests.get(tampered, headers={"Host": _host(bucket)}, timeout=10)
        assert reply.status_code in (400, 403) and not reply.headers["Content-Type"].startswith(("image/", "text/h"))


def test_presigned_put_cannot_gain_processing_or_copy(server: LocalServer, client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="secret.txt", Body=b"secret")
    url = _presigned(server, bucket, "upload.jpg", "PUT")
    ops = json.dumps({"rules": [{"fileid": "/elsewhere.jpg", "rule": "imageMogr2/thumbnail/10x"}]})
    for extra in ({"Pic-Operations": ops}, {"x-cos-copy-source": f"{_host(bucket)}/secret.txt"},
                  {"x-cos-meta-owner": "mallory"}):
        reply = requests.put(url, data=jpeg(32, 32), headers={"Host": _host(bucket), **extra}, timeout=10)
        assert reply.status_code == 403 and "q-header-list" in reply.text
    listed = client.list_objects(Bucket=bucket).get("Contents", [])
    assert [item["Key"] for item in listed] == ["secret.txt"]


@pytest.mark.parametrize("signature", ["é" * 40, "日本" * 20, "zz" * 20, "a" * 39, "", "\u00ff" * 40])
def test_malformed_signatures_are_403(server: LocalServer, bucket: str, signature: str) -> None:
    auth = _auth(server, "GET", "k", {"host": _host(bucket)}, signature=signature or "x")
    status, body = _raw(server, "GET", "/k", [("Host", _host(bucket)),
                                              ("Authorization", auth.encode().decode("latin-1"))])
    assert status == 403 and b"InternalError" not in body


@pytest.mark.parametrize("key_time", ["\u00b2;\u00b3", "\u0661\u0662;\u0663\u0664", " 1; 2", "1;", ";", "-5;9",
                                      "9" * 40 + ";1"])
def test_malformed_key_times_are_403(server: LocalServer, bucket: str, key_time: str) -> None:
    auth = _auth(server, "GET", "k", {"host": _host(bucket)}, key_time=key_time)
    status, body = _raw(server, "GET", "/k", [("Host", _host(bucket)),
                                              ("Authorization", auth.encode().decode("latin-1"))])
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_duplicate_content_length_and_authorization_are_400(server: LocalServer, bucket: str) -> None:
    auth = _auth(server, "PUT", "k", {"host": _host(bucket), "content-length": "1"})
    for headers in ([("Content-Length", "1"), ("Content-Length", "5")], [("Authorization", auth)]):
        status, body = _raw(server, "PUT", "/k", [("Host", _host(bucket)), ("Authorization", auth), *headers], b"x")
        assert status == 400 and b"more than once" in body


_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
_LATIN1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=60)


@settings(max_examples=500, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(authorization=st.one_of(_LATIN1, st.builds(
           lambda parts: "&".join(parts), st.lists(st.sampled_from(
               ["q-sign-algorithm=sha1", "q-ak=AKIDx", "q-sign-time=1;9999999999", "q-key-time=1;9999999999",
                "q-header-list=host", "q-url-param-list=", "q-signature=" + "a" * 40, "q-signature=é",
                "q-sign-time=²;³", "q-header-list=;;", "=", "&&", "q-ak="]), max_size=8))),
       query=st.lists(st.tuples(_TEXT, _TEXT), max_size=4),
       headers=st.dictionaries(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12), _LATIN1, max_size=4),
       path=_TEXT)
def test_verify_only_ever_raises_auth_failure(authorization: str, query: list[tuple[str, str]],
                                              headers: dict[str, str], path: str) -> None:
    creds = Credentials("AKIDx", "secret")
    try:
        verify(creds, "GET", "/" + path, query, {**headers, "authorization": authorization}, now=1000.0)
    except AuthFailure as exc:
        assert exc.code in ("AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId",
                            "RequestTimeTooSkewed", "InvalidArgument")
    try:
        request_headers([("Host", "a"), *headers.items(), *headers.items()])
    except AuthFailure as exc:
        assert exc.code == "InvalidArgument"
