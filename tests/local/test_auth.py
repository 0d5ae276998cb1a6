"""Signature verification: the SDK's header signatures with unicode and `+ = & ?` keys, security tokens,
pre-signed URLs (host signed or not), wrong secret / id, expired and future signatures, missing signatures,
and where the credentials come from."""

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


def test_presigned_url_without_signed_host(server: LocalServer, client: Any, bucket: str) -> None:
    key = "pre/a+b=c&d?e 日本.txt"
    client.put_object(Bucket=bucket, Key=key, Body=b"presigned")
    url = client.get_presigned_url(Bucket=bucket, Key=key, Method="GET", SignHost=False)
    reply = requests.get(url, headers={"Host": _host(bucket)}, timeout=10)
    assert reply.status_code == 200 and reply.content == b"presigned"
    put_url = client.get_presigned_url(Bucket=bucket, Key="pre/put.txt", Method="PUT", SignHost=False)
    assert requests.put(put_url, data=b"uploaded", headers={"Host": _host(bucket)}, timeout=10).status_code == 200
    assert client.get_object(Bucket=bucket, Key="pre/put.txt")["Body"].get_raw_stream().read() == b"uploaded"
    other = url.replace("pre/a", "pre/b", 1)  # the signature covers the path
    assert requests.get(other, headers={"Host": _host(bucket)}, timeout=10).status_code == 403


def test_presigned_url_with_signed_host(server: LocalServer, bucket: str, client: Any) -> None:
    client.put_object(Bucket=bucket, Key="signed-host.txt", Body=b"ok")
    cloud = CosS3Client(CosConfig(Region=REGION, SecretId=server.secret_id, SecretKey=server.secret_key,
                                  Scheme="http"), retry=0)
    url = cloud.get_presigned_url(Bucket=bucket, Key="signed-host.txt", Method="GET")
    parts = urlsplit(url)
    assert "q-header-list=host" in parts.query
    local = urlunsplit(("http", f"127.0.0.1:{server.port}", parts.path, parts.query, ""))
    reply = requests.get(local, headers={"Host": parts.netloc}, timeout=10)  # like curl --connect-to
    assert reply.status_code == 200 and reply.content == b"ok"


def test_expired_presigned_url(server: LocalServer, client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="old.txt", Body=b"x")
    url = client.get_presigned_url(Bucket=bucket, Key="old.txt", Method="GET", Expired=-30, SignHost=False)
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
