"""Hostile keys and Host headers: every request stays inside the server's root; odd input gets a COS error."""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from reconciler.local.auth import sign, string_to_sign
from tests.local.conftest import REGION, make_client

HOSTILE = ["../../../escape.txt", "..%2F..%2Fescape2.txt", "/abs/escape3.txt", "a/../../b/escape4.txt",
           "..\\..\\win.txt", "./.././x", "con", "nul.txt", "." * 200, "a" * 840 + "/tail", "x/" * 400]


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.fixture
def sandbox(tmp_path: Path) -> Any:
    root = tmp_path / "inside" / "root"
    with LocalServer(root, buckets=["safe-1250000000"]) as srv:
        yield srv, tmp_path


def _signed_request(srv: LocalServer, method: str, raw_path: str, key: str, host: str,
                    body: bytes = b"") -> tuple[int, bytes]:
    """A request with a raw (unnormalised) path, signed for ``key`` like the SDK would."""
    import time

    now = int(time.time())
    key_time = f"{now - 60};{now + 600}"
    to_sign = string_to_sign(method.lower(), "/" + key, {}, {"host": quote(host, safe="-_.~")}, key_time)
    auth = (f"q-sign-algorithm=sha1&q-ak={srv.secret_id}&q-sign-time={key_time}&q-key-time={key_time}"
            f"&q-header-list=host&q-url-param-list=&q-signature={sign(srv.secret_key, key_time, to_sign)}")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest(method, raw_path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    conn.putheader("Authorization", auth)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, data


def test_hostile_keys_stay_inside_root(sandbox: Any) -> None:
    srv, outside = sandbox
    before_outside = _tree(outside) - {p for p in _tree(outside) if p.startswith("inside")}
    client = make_client(srv)
    for key in HOSTILE:
        client.put_object(Bucket="safe-1250000000", Key=key, Body=key.encode())
    for key in HOSTILE:
        assert client.get_object(Bucket="safe-1250000000", Key=key)["Body"].get_raw_stream().read() == key.encode()
    host = f"safe-1250000000.cos.{REGION}.myqcloud.com"
    status, _ = _signed_request(srv, "PUT", "/../../raw-escape.txt", "../../raw-escape.txt", host, b"raw")
    assert status == 200
    status, data = _signed_request(srv, "GET", "/../../raw-escape.txt", "../../raw-escape.txt", host)
    assert (status, data) == (200, b"raw")
    after_outside = _tree(outside) - {p for p in _tree(outside) if p.startswith("inside")}
    assert after_outside == before_outside
    inside = _tree(srv.root)
    assert all(p.split(os.sep)[0] in ("blobs", "tmp") or p.startswith("index.sqlite3") for p in inside)
    assert not any("escape" in p for p in inside)


def test_key_limits_and_nul(sandbox: Any) -> None:
    srv, _ = sandbox
    client = make_client(srv)
    with pytest.raises(CosServiceError) as exc:
        client.put_object(Bucket="safe-1250000000", Key="k" * 851, Body=b"x")
    assert (exc.value.get_status_code(), exc.value.get_error_code()) == (400, "KeyTooLong")
    host = f"safe-1250000000.cos.{REGION}.myqcloud.com"
    status, data = _signed_request(srv, "PUT", "/nul%00key", "nul\x00key", host, b"x")
    assert status == 400 and b"InvalidURI" in data
    status, data = _signed_request(srv, "GET", "/bad%ffutf8", "bad", host)
    assert status == 400 and b"InvalidURI" in data


@pytest.mark.parametrize("host", ["../../etc.cos.ap-guangzhou.myqcloud.com", "a/b.cos.ap-guangzhou.myqcloud.com",
                                  "UPPER_bad.cos.x.myqcloud.com", "-dash.cos.x.myqcloud.com",
                                  "x" * 70 + ".cos.x.myqcloud.com"])
def test_hostile_host_headers_are_refused(sandbox: Any, host: str) -> None:
    srv, outside = sandbox
    before = _tree(outside)
    status, data = _signed_request(srv, "PUT", "/k", "k", host, b"x")
    assert status == 400 and b"<Code>InvalidBucketName</Code>" in data
    assert _tree(outside) == before


def test_no_bucket_in_host(sandbox: Any) -> None:
    srv, _ = sandbox
    status, data = _signed_request(srv, "PUT", "/k", "k", f"127.0.0.1:{srv.port}", b"x")
    assert status == 400 and b"<Code>InvalidURI</Code>" in data
