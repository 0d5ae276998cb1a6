"""Signature verification: the SDK's header signatures with unicode and `+ = & ?` keys, security tokens,
pre-signed URLs (host signed; unsigned host refused), wrong secret / id, expired and future signatures, missing
signatures, and where the credentials come from."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, LocalServer
from reconciler.local.auth import sign, string_to_sign
from tests.local.conftest import REGION, make_client

KEYS = ["日本語/ファイル.txt", "a+b=c&d?e.txt", "sp ace/and%20pct", "x;y,z!*()'.txt", "ünï/çødé"]


def _host(bucket: str) -> str:
    return f"{bucket}.cos.{REGION}.myqcloud.com"


def _code(exc: pytest.ExceptionInfo[CosServiceError]) -> tuple[int, str]:
    return exc.value.get_status_code(), exc.value.get_error_code()


@pytest.mark.parametrize("key", KEYS)
def test_odd_keys_sign_and_verify(client: Any, bucket: str, key: str) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read() == key.encode()
    assert client.head_object(Bucket=bucket, Key=key)["Content-Length"] == str(len(key.encode()))
    client.delete_object(Bucket=bucket, Key=key)


def test_wrong_secret_and_wrong_id(server: LocalServer, bucket: str) -> None:
    with pytest.raises(CosServiceError) as exc:
        make_client(server, secret_key="not-the-key").put_object(Bucket=bucket, Key="k", Body=b"x")
    assert _code(exc) == (403, "SignatureDoesNotMatch")
    with pytest.raises(CosServiceError) as exc:
        make_client(server, secret_id="AKIDother").head_bucket(Bucket=bucket)
    assert exc.value.get_status_code() == 403
    with pytest.raises(CosServiceError) as exc:
        make_client(server, secret_id="AKIDother").get_object(Bucket=bucket, Key="k")
    assert _code(exc) == (403, "InvalidAccessKeyId")


def test_missing_signature_is_access_denied(server: LocalServer, bucket: str) -> None:
    reply = requests.get(f"{server.endpoint}/anything", headers={"Host": _host(bucket)}, timeout=10)
    assert reply.status_code == 403 and "<Code>AccessDenied</Code>" in reply.text
    assert reply.headers["x-cos-request-id"]


def _presigned(server: LocalServer, bucket: str, key: str, method: str, **kwargs: Any) -> str:
    """A pre-signed URL as the SDK makes it for the cloud (host signed), pointed at the local server; send it
    with ``Host: <bucket>.cos.<region>.myqcloud.com`` (like curl --connect-to)."""
    cloud = CosS3Client(CosConfig(Region=REGION, SecretId=server.secret_id, SecretKey=server.secret_key,
                                  Scheme="http"), retry=0)
    parts = urlsplit(cloud.get_presigned_url(Bucket=bucket, Key=key, Method=method, **kwargs))
    return urlunsplit(("http", f"127.0.0.1:{server.port}", parts.path, parts.query, ""))


def test_presigned_url_without_signed_host_is_accepted_with_its_other_bindings(server: LocalServer, client: Any,
                                                                              bucket: str) -> None:
    """COS accepts SignHost=False URLs (host signing is recommended, not required); the key, the method and the
    signed parameters stay bound, and a second Host header is still refused."""
    client.put_object(Bucket=bucket, Key="unsigned-host.txt", Body=b"x")
    url = _presigned(server, bucket, "unsigned-host.txt", "GET", SignHost=False)
    assert "q-header-list=&" in url or "q-header-list=host" not in url
    reply = requests.get(url, headers={"Host": _host(bucket)}, timeout=10)
    assert reply.status_code == 200 and reply.content == b"x"
    other_key = url.replace("/unsigned-host.txt", "/other.txt", 1)
    assert requests.get(other_key, headers={"Host": _host(bucket)}, timeout=10).status_code == 403
    assert requests.put(url, data=b"y", headers={"Host": _host(bucket)}, timeout=10).status_code == 403
    added = url + "&response-content-type=text/html"
    assert requests.get(added, headers={"Host": _host(bucket)}, timeout=10).status_code == 403


def test_presigned_urls_with_signed_host(server: LocalServer, bucket: str, client: Any) -> None:
    key = "pre/a+b=c&d?e 日本.txt"
    client.put_object(Bucket=bucket, Key=key, Body=b"presigned")
    url = _presigned(server, bucket, key, "GET")
    assert "q-header-list=host" in url
    reply = requests.get(url, headers={"Host": _host(bucket)}, timeout=10)
    assert reply.status_code == 200 and reply.content == b"presigned"
    put_url = _presigned(server, bucket, "pre/put.txt", "PUT")
    assert requests.put(put_url, data=b"uploaded", headers={"Host": _host(bucket)}, timeout=10).status_code == 200
    assert client.get_object(Bucket=bucket, Key="pre/put.txt")["Body"].get_raw_stream().read() == b"uploaded"
    other = url.replace("/pre/a", "/pre/b", 1)  # the signature covers the path
    assert requests.get(other, headers={"Host": _host(bucket)}, timeout=10).status_code == 403


def test_expired_presigned_url(server: LocalServer, client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="old.txt", Body=b"x")
    url = _presigned(server, bucket, "old.txt", "GET", Expired=-30)
    reply = requests.get(url, headers={"Host": _host(bucket)}, timeout=10)
    assert reply.status_code == 403 and "<Code>AccessDenied</Code>" in reply.text and "expired" in reply.text


def test_signature_from_the_future_is_too_skewed(server: LocalServer, bucket: str) -> None:
    start = int(time.time()) + 7200
    key_time = f"{start};{start + 600}"
    host = _host(bucket)
    to_sign = string_to_sign("get", "/k", {}, {"host": host}, key_time)
    auth = (f"q-sign-algorithm=sha1&q-ak={server.secret_id}&q-sign-time={key_time}&q-key-time={key_time}"
            f"&q-header-list=host&q-url-param-list=&q-signature={sign(server.secret_key, key_time, to_sign)}")
    reply = requests.get(f"{server.endpoint}/k", headers={"Host": host, "Authorization": auth}, timeout=10)
    assert reply.status_code == 403 and "<Code>RequestTimeTooSkewed</Code>" in reply.text


def test_security_token(tmp_path: Any) -> None:
    with LocalServer(tmp_path, buckets=["tok-1250000000"], token="session-token-123") as srv:
        good = make_client(srv, token="session-token-123")
        good.put_object(Bucket="tok-1250000000", Key="k", Body=b"x")
        assert good.get_object(Bucket="tok-1250000000", Key="k")["Body"].get_raw_stream().read() == b"x"
        for token in (None, "wrong-token"):
            with pytest.raises(CosServiceError) as exc:
                make_client(srv, token=token).head_object(Bucket="tok-1250000000", Key="k")
            assert exc.value.get_status_code() == 403


def test_credentials_come_from_env_or_the_well_known_pair(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID", raising=False)
    monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY", raising=False)
    default = LocalServer(tmp_path / "a")
    assert (default.secret_id, default.secret_key) == (DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY)
    default.stop()
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKIDfromenv")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "keyfromenv")
    with LocalServer(tmp_path / "b", buckets=["env-1250000000"]) as srv:
        assert (srv.secret_id, srv.secret_key) == ("AKIDfromenv", "keyfromenv")
        make_client(srv).put_object(Bucket="env-1250000000", Key="k", Body=b"x")
        with pytest.raises(CosServiceError):
            make_client(srv, secret_id=DEFAULT_SECRET_ID, secret_key=DEFAULT_SECRET_KEY).head_bucket(
                Bucket="env-1250000000")


def test_stats_need_no_auth(server: LocalServer) -> None:
    reply = requests.get(f"{server.endpoint}/-/stats", timeout=10)
    data = reply.json()
    assert reply.status_code == 200 and data["total"] >= 1 and set(data) <= set(server.stats())
