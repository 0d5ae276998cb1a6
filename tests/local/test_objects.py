"""Buckets and objects through the real SDK: put/head/delete bucket, put/get/head/delete, multi-delete, Range,
Content-MD5, x-cos-forbid-overwrite (with a race), errors with their codes, 64 concurrent clients."""

from __future__ import annotations

import base64
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from tests.local.conftest import make_client


def _error(call: Any, *args: Any, **kwargs: Any) -> CosServiceError:
    with pytest.raises(CosServiceError) as info:
        call(*args, **kwargs)
    return info.value


def test_bucket_lifecycle(client: Any) -> None:
    name = "lifecycle-1250000000"
    client.create_bucket(Bucket=name)
    client.head_bucket(Bucket=name)
    err = _error(client.create_bucket, Bucket=name)
    assert (err.get_status_code(), err.get_error_code()) == (409, "BucketAlreadyOwnedByYou")
    client.put_object(Bucket=name, Key="k", Body=b"x")
    err = _error(client.delete_bucket, Bucket=name)
    assert (err.get_status_code(), err.get_error_code()) == (409, "BucketNotEmpty")
    client.delete_object(Bucket=name, Key="k")
    client.delete_bucket(Bucket=name)
    assert _error(client.head_bucket, Bucket=name).get_status_code() == 404


def test_any_request_to_a_missing_bucket_is_no_such_bucket(client: Any) -> None:
    for call, kwargs in [(client.put_object, {"Key": "a", "Body": b"x"}), (client.get_object, {"Key": "a"}),
                         (client.list_objects, {}), (client.delete_object, {"Key": "a"}),
                         (client.delete_bucket, {})]:
        err = _error(call, Bucket="missing-1250000000", **kwargs)
        assert (err.get_status_code(), err.get_error_code()) == (404, "NoSuchBucket"), call
        assert err.get_request_id()


def test_put_get_head_delete(client: Any, bucket: str) -> None:
    body = b"hello world" * 100
    put = client.put_object(Bucket=bucket, Key="dir/a.txt", Body=body, ContentType="text/plain",
                            Metadata={"x-cos-meta-origin": "test"})
    md5 = hashlib.md5(body).hexdigest()
    assert put["ETag"] == f'"{md5}"' and put["x-cos-request-id"]
    head = client.head_object(Bucket=bucket, Key="dir/a.txt")
    assert head["ETag"] == f'"{md5}"' and head["Content-Length"] == str(len(body))
    assert head["Content-Type"] == "text/plain" and head["x-cos-meta-origin"] == "test" and head["Last-Modified"]
    got = client.get_object(Bucket=bucket, Key="dir/a.txt")
    assert got["Body"].get_raw_stream().read() == body
    client.delete_object(Bucket=bucket, Key="dir/a.txt")
    err = _error(client.head_object, Bucket=bucket, Key="dir/a.txt")
    assert (err.get_status_code(), err.get_error_code()) == (404, "NoSuchResource")
    err = _error(client.get_object, Bucket=bucket, Key="dir/a.txt")
    assert (err.get_status_code(), err.get_error_code()) == (404, "NoSuchKey")
    client.delete_object(Bucket=bucket, Key="dir/a.txt")  # deleting a missing key is not an error


def test_large_body_is_stored_as_a_file_and_read_back(client: Any, bucket: str, server: LocalServer) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: above the inline limit
    client.put_object(Bucket=bucket, Key="big.bin", Body=body)
    assert client.get_object(Bucket=bucket, Key="big.bin")["Body"].get_raw_stream().read() == body
    client.put_object(Bucket=bucket, Key="big.bin", Body=body[:10])  # overwrite drops the old file
    assert client.get_object(Bucket=bucket, Key="big.bin")["Body"].get_raw_stream().read() == body[:10]
    assert server.store.verify() == []


def test_range(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    got = client.get_object(Bucket=bucket, Key="r", Range="bytes=2-5")
    assert got["Body"].get_raw_stream().read() == b"2345" and got["Content-Range"] == "bytes 2-5/10"
    assert client.get_object(Bucket=bucket, Key="r", Range="bytes=7-")["Body"].get_raw_stream().read() == b"789"
    assert client.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].get_raw_stream().read() == b"789"
    err = _error(client.get_object, Bucket=bucket, Key="r", Range="bytes=20-30")
    assert (err.get_status_code(), err.get_error_code()) == (416, "InvalidRange")


def test_content_md5(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="m", Body=b"abc", EnableMD5=True)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    err = _error(client.put_object, Bucket=bucket, Key="m2", Body=b"abc", ContentMD5=wrong)
    assert (err.get_status_code(), err.get_error_code()) == (400, "BadDigest")
    assert _error(client.head_object, Bucket=bucket, Key="m2").get_status_code() == 404
    err = _error(client.put_object, Bucket=bucket, Key="m2", Body=b"abc", ContentMD5="notbase64!")
    assert err.get_error_code() == "InvalidDigest"


def test_forbid_overwrite(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="lock", Body=b"first", Metadata={"x-cos-forbid-overwrite": "true"})
    err = _error(client.put_object, Bucket=bucket, Key="lock", Body=b"second",
                 Metadata={"x-cos-forbid-overwrite": "true"})
    assert (err.get_status_code(), err.get_error_code()) == (409, "FileAlreadyExists")
    assert client.get_object(Bucket=bucket, Key="lock")["Body"].get_raw_stream().read() == b"first"
    client.put_object(Bucket=bucket, Key="lock", Body=b"third")  # without the header: overwrites
    assert client.get_object(Bucket=bucket, Key="lock")["Body"].get_raw_stream().read() == b"third"


def test_racing_creates_exactly_one_wins(server: LocalServer, bucket: str) -> None:
    for round_ in range(5):
        key = f"race-{round_}"
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def create(i: int) -> None:
            c = make_client(server, pool=1)
            barrier.wait()
            try:
                c.put_object(Bucket=bucket, Key=key, Body=f"writer {i}".encode(),
                             Metadata={"x-cos-forbid-overwrite": "true"})
                outcomes.append(f"won {i}")
            except CosServiceError as exc:
                outcomes.append(exc.get_error_code())

        threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [o for o in outcomes if o.startswith("won")]
        assert len(winners) == 1 and outcomes.count("FileAlreadyExists") == 7
        stored = make_client(server).get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read()
        assert stored == f"writer {winners[0].split()[1]}".encode()


def test_multi_delete(client: Any, bucket: str) -> None:
    keys = [f"d/{i}" for i in range(5)] + ["odd & <key>.txt"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = client.delete_objects(Bucket=bucket, Delete={
        "Object": [{"Key": k} for k in keys[:3] + keys[5:] + ["never-existed"]], "Quiet": "false"})
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(keys[:3] + keys[5:] + ["never-existed"])
    left = client.list_objects(Bucket=bucket)["Contents"]
    assert [c["Key"] for c in left] == keys[3:5]


def test_errors_carry_the_complete_cos_error_body(client: Any, bucket: str) -> None:
    err = _error(client.get_object, Bucket=bucket, Key="nothing")
    raw = err.get_origin_msg()
    for element in ("<Code>NoSuchKey</Code>", "<Message>", "<Resource>", "<RequestId>", "<TraceId>"):
        assert element in raw
    assert err.get_request_id() and f"<RequestId>{err.get_request_id()}</RequestId>" in raw


def test_64_concurrent_clients(server: LocalServer, bucket: str) -> None:
    def work(i: int) -> int:
        c = make_client(server, pool=1)
        ok = 0
        for j in range(6):
            key = f"conc/{i:02d}/{j}"
            body = f"{i}-{j}".encode() * (1 + j * 50)
            c.put_object(Bucket=bucket, Key=key, Body=body)
            got = c.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read()
            ok += got == body
            c.list_objects(Bucket=bucket, Prefix=f"conc/{i:02d}/", MaxKeys=10)
        return ok

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(work, range(64)))
    assert results == [6] * 64
    client = make_client(server)
    marker, seen = "", 0
    while True:
        page = client.list_objects(Bucket=bucket, Prefix="conc/", Marker=marker, MaxKeys=100)
        seen += len(page.get("Contents", []))
        if page["IsTruncated"] != "true":
            break
        marker = page["NextMarker"]
    assert seen == 64 * 6
    assert server.store.verify() == []


def test_short_connections_do_not_leak_file_descriptors(server: LocalServer, bucket: str) -> None:
    import os

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    make_client(server).put_object(Bucket=bucket, Key="fd", Body=b"x")
    for _ in range(20):  # warm up
        make_client(server, pool=1).head_object(Bucket=bucket, Key="fd")
    before = fds()
    for _ in range(150):
        client = make_client(server, pool=1)
        client.head_object(Bucket=bucket, Key="fd")
        client._session.close()
    assert fds() < before + 20


def test_copy_object(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="src/a b+c.txt", Body=b"copy me", ContentType="text/plain",
                      Metadata={"x-cos-meta-tag": "v1"})
    source = {"Bucket": bucket, "Key": "src/a b+c.txt", "Region": "ap-guangzhou"}
    result = client.copy_object(Bucket=bucket, Key="dst/copy.txt", CopySource=source)
    assert result["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    head = client.head_object(Bucket=bucket, Key="dst/copy.txt")
    assert head["Content-Type"] == "text/plain" and head["x-cos-meta-tag"] == "v1"
    client.copy_object(Bucket=bucket, Key="dst/replaced.txt", CopySource=source, CopyStatus="Replaced",
                       ContentType="application/x-new")
    head = client.head_object(Bucket=bucket, Key="dst/replaced.txt")
    assert head["Content-Type"] == "application/x-new" and "x-cos-meta-tag" not in head
    err = _error(client.copy_object, Bucket=bucket, Key="x", CopySource={**source, "Key": "missing"})
    assert (err.get_status_code(), err.get_error_code()) == (404, "NoSuchKey")
