"""The operations issue 13 added, driven through cos-python-sdk-v5 over HTTP against the local server."""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import crcmod
import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from reconciler.local.checksum import combine, crc64
from tests.local.conftest import REGION, jpeg

MIB = 1024 * 1024
# The SDK's own definition (resumable_downloader.py, as COS documents it): what EnableCRC compares against.
SDK_CRC64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


def test_crc64_matches_cos_documented_parameters_and_check_value() -> None:
    assert crc64(b"123456789") == 11051210869376104954 == SDK_CRC64(b"123456789")
    data = os.urandom(3000)
    assert crc64(data[1000:], crc64(data[:1000])) == SDK_CRC64(data)
    assert combine(crc64(data[:1000]), crc64(data[1000:]), 2000) == SDK_CRC64(data)


def _error(call: Any) -> CosServiceError:
    with pytest.raises(CosServiceError) as caught:
        call()
    return caught.value


def test_multipart_upload_three_parts_and_a_short_one(client: Any, bucket: str, server: LocalServer) -> None:
    parts = [os.urandom(5 * MIB) for _ in range(3)] + [b"tail" * 1000]
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="big/video.bin", ContentType="video/mp4",
                                               CacheControl="max-age=60")["UploadId"]
    etags = []
    for number, data in enumerate(parts, 1):
        reply = client.upload_part(Bucket=bucket, Key="big/video.bin", Body=data, PartNumber=number,
                                   UploadId=upload_id)
        assert reply["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert reply["x-cos-hash-crc64ecma"] == str(SDK_CRC64(data))
        etags.append(reply["ETag"])
    listed = client.list_parts(Bucket=bucket, Key="big/video.bin", UploadId=upload_id)
    assert [p["PartNumber"] for p in listed["Part"]] == ["1", "2", "3", "4"]
    uploads = client.list_multipart_uploads(Bucket=bucket)
    assert [u["UploadId"] for u in uploads["Upload"]] == [upload_id]
    assert "Contents" not in client.list_objects(Bucket=bucket)  # incomplete uploads are never objects
    _error(lambda: client.head_object(Bucket=bucket, Key="big/video.bin"))
    done = client.complete_multipart_upload(Bucket=bucket, Key="big/video.bin", UploadId=upload_id, MultipartUpload={
        "Part": [{"PartNumber": str(n), "ETag": e} for n, e in enumerate(etags, 1)]})
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-4"
    assert done["ETag"] == f'"{expected}"'
    whole = b"".join(parts)
    got = client.get_object(Bucket=bucket, Key="big/video.bin")
    assert got["Body"].get_raw_stream().read() == whole
    assert got["ETag"] == f'"{expected}"' and got["Content-Type"] == "video/mp4"
    assert got["Cache-Control"] == "max-age=60"
    assert got["x-cos-hash-crc64ecma"] == str(SDK_CRC64(whole))
    assert "Upload" not in client.list_multipart_uploads(Bucket=bucket)
    assert server.store.verify() == []


def test_multipart_refusals_and_abort_leaves_nothing(client: Any, bucket: str, server: LocalServer) -> None:
    blobs_before = sum(1 for _ in (server.root / "blobs").rglob("*") if _.is_file())
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="a.bin")["UploadId"]
    small = client.upload_part(Bucket=bucket, Key="a.bin", Body=b"s" * 100, PartNumber=1, UploadId=upload_id)
    big = client.upload_part(Bucket=bucket, Key="a.bin", Body=b"b" * (2 * MIB), PartNumber=2, UploadId=upload_id)
    too_small = _error(lambda: client.complete_multipart_upload(
        Bucket=bucket, Key="a.bin", UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": "1", "ETag": small["ETag"]}, {"PartNumber": "2", "ETag": big["ETag"]}]}))
    assert too_small.get_error_code() == "EntityTooSmall"
    wrong = _error(lambda: client.complete_multipart_upload(
        Bucket=bucket, Key="a.bin", UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": "2", "ETag": '"0000"'}]}))
    assert wrong.get_error_code() == "InvalidPart"
    client.abort_multipart_upload(Bucket=bucket, Key="a.bin", UploadId=upload_id)
    gone = _error(lambda: client.list_parts(Bucket=bucket, Key="a.bin", UploadId=upload_id))
    assert (gone.get_status_code(), gone.get_error_code()) == (404, "NoSuchUpload")
    assert "Contents" not in client.list_objects(Bucket=bucket)
    assert sum(1 for _ in (server.root / "blobs").rglob("*") if _.is_file()) == blobs_before


def test_upload_part_copy(client: Any, bucket: str) -> None:
    source = os.urandom(3 * MIB)
    client.put_object(Bucket=bucket, Key="src.bin", Body=source)
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="dst.bin")["UploadId"]
    copy_source = {"Bucket": bucket, "Key": "src.bin", "Region": REGION}
    first = client.upload_part_copy(Bucket=bucket, Key="dst.bin", PartNumber=1, UploadId=upload_id,
                                    CopySource=copy_source, CopySourceRange=f"bytes=0-{2 * MIB - 1}")
    second = client.upload_part_copy(Bucket=bucket, Key="dst.bin", PartNumber=2, UploadId=upload_id,
                                     CopySource=copy_source, CopySourceRange=f"bytes={2 * MIB}-{3 * MIB - 1}")
    client.complete_multipart_upload(Bucket=bucket, Key="dst.bin", UploadId=upload_id, MultipartUpload={
        "Part": [{"PartNumber": "1", "ETag": first["ETag"]}, {"PartNumber": "2", "ETag": second["ETag"]}]})
    assert client.get_object(Bucket=bucket, Key="dst.bin")["Body"].get_raw_stream().read() == source


def test_upload_file_large_and_empty_then_download_with_crc(client: Any, bucket: str, tmp_path: Path) -> None:
    large, empty = tmp_path / "large.bin", tmp_path / "empty.bin"
    large.write_bytes(os.urandom(12 * MIB))
    empty.write_bytes(b"")
    client.upload_file(Bucket=bucket, Key="large.bin", LocalFilePath=str(large))  # default: 1 MiB parts
    client.upload_file(Bucket=bucket, Key="empty.bin", LocalFilePath=str(empty))  # chunked, 0 bytes
    assert client.head_object(Bucket=bucket, Key="empty.bin")["Content-Length"] == "0"
    assert client.head_object(Bucket=bucket, Key="large.bin")["ETag"].endswith('-12"')
    out = tmp_path / "back.bin"
    client.download_file(Bucket=bucket, Key="large.bin", DestFilePath=str(out), EnableCRC=True)
    assert out.read_bytes() == large.read_bytes()


def test_chunked_body_from_a_generator(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="gen.txt", Body=(chunk for chunk in (b"abc", b"", b"defg" * 5000)))
    got = client.get_object(Bucket=bucket, Key="gen.txt")["Body"].get_raw_stream().read()
    assert got == b"abc" + b"defg" * 5000
    assert client.head_object(Bucket=bucket, Key="gen.txt")["x-cos-hash-crc64ecma"] == str(SDK_CRC64(got))


STANDARD = {"CacheControl": "no-cache", "ContentDisposition": 'attachment; filename="a.txt"',
            "ContentEncoding": "gzip", "ContentLanguage": "zh-CN", "Expires": "Wed, 21 Oct 2037 07:28:00 GMT"}
HEADER_OF = {"CacheControl": "Cache-Control", "ContentDisposition": "Content-Disposition",
             "ContentEncoding": "Content-Encoding", "ContentLanguage": "Content-Language", "Expires": "Expires"}


def test_object_headers_are_stored_and_every_response_override_honoured(client: Any, bucket: str) -> None:
    put = client.put_object(Bucket=bucket, Key="h.txt", Body=b"hello", ContentType="text/plain", **STANDARD)
    assert put["x-cos-hash-crc64ecma"] == str(SDK_CRC64(b"hello"))
    head = client.head_object(Bucket=bucket, Key="h.txt")
    for arg, header in HEADER_OF.items():
        assert head[header] == STANDARD[arg]
    assert head["x-cos-hash-crc64ecma"] == str(SDK_CRC64(b"hello"))
    overrides = {"ResponseContentType": "application/json", "ResponseContentLanguage": "en",
                 "ResponseExpires": "Thu, 01 Jan 2037 00:00:00 GMT", "ResponseCacheControl": "max-age=5",
                 "ResponseContentDisposition": "inline", "ResponseContentEncoding": "identity"}
    got = client.get_object(Bucket=bucket, Key="h.txt", **overrides)
    assert (got["Content-Type"], got["Content-Language"], got["Expires"], got["Cache-Control"],
            got["Content-Disposition"], got["Content-Encoding"]) == tuple(overrides.values())
    client.copy_object(Bucket=bucket, Key="h2.txt", CopySource={"Bucket": bucket, "Key": "h.txt", "Region": REGION})
    copied = client.head_object(Bucket=bucket, Key="h2.txt")
    assert all(copied[header] == STANDARD[arg] for arg, header in HEADER_OF.items())


def _http_date(stamp: float) -> str:
    return email.utils.formatdate(stamp, usegmt=True)


def server_status(client: Any, bucket: str, key: str, headers: dict[str, str]) -> int:
    """The HTTP status of a signed GET (the SDK hides 304); the host is signed, as the server requires."""
    host = f"{bucket}.cos.{REGION}.myqcloud.com"
    url = client.get_presigned_url(Bucket=bucket, Key=key, Method="GET", Headers={"Host": host})
    return int(requests.get(url, headers={"Host": host, **headers}, timeout=10).status_code)


def test_conditional_get_and_head(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="c.txt", Body=b"v1")
    past, future = _http_date(time.time() - 3600), _http_date(time.time() + 3600)
    assert client.get_object(Bucket=bucket, Key="c.txt", IfModifiedSince=past)["Body"].get_raw_stream().read() == b"v1"
    # 304 is not an error to the SDK: it returns the headers and an empty body
    not_modified = client.get_object(Bucket=bucket, Key="c.txt", IfModifiedSince=future)
    assert not_modified["Content-Length"] == "0" and not_modified["Body"].get_raw_stream().read() == b""
    assert server_status(client, bucket, "c.txt", {"If-Modified-Since": future}) == 304
    failed = _error(lambda: client.get_object(Bucket=bucket, Key="c.txt", IfUnmodifiedSince=past))
    assert (failed.get_status_code(), failed.get_error_code()) == (412, "PreconditionFailed")
    assert client.head_object(Bucket=bucket, Key="c.txt", IfUnmodifiedSince=future)["Content-Length"] == "2"


@pytest.mark.parametrize(("condition", "passes"), [
    ("CopySourceIfMatch", "etag"), ("CopySourceIfNoneMatch", "other"),
    ("CopySourceIfModifiedSince", "past"), ("CopySourceIfUnmodifiedSince", "future")])
def test_copy_source_preconditions(client: Any, bucket: str, condition: str, passes: str) -> None:
    etag = client.put_object(Bucket=bucket, Key="s.txt", Body=b"source")["ETag"]
    values = {"etag": etag, "other": '"0123456789abcdef0123456789abcdef"', "past": _http_date(time.time() - 3600),
              "future": _http_date(time.time() + 3600)}
    failing = {"etag": "other", "other": "etag", "past": "future", "future": "past"}[passes]
    source = {"Bucket": bucket, "Key": "s.txt", "Region": REGION}
    refused = _error(lambda: client.copy_object(Bucket=bucket, Key="d.txt", CopySource=source,
                                                **{condition: values[failing]}))
    assert (refused.get_status_code(), refused.get_error_code()) == (412, "PreconditionFailed")
    assert "Contents" not in client.list_objects(Bucket=bucket, Prefix="d.txt")  # nothing was copied
    client.copy_object(Bucket=bucket, Key="d.txt", CopySource=source, **{condition: values[passes]})
    assert client.get_object(Bucket=bucket, Key="d.txt")["Body"].get_raw_stream().read() == b"source"


def test_keep_alive_false_then_fifty_requests_without_a_disconnect(server: LocalServer, bucket: str) -> None:
    conf = CosConfig(Region=REGION, SecretId=server.secret_id, SecretKey=server.secret_key, Scheme="http",
                     IP="127.0.0.1", Port=server.port, KeepAlive=False)
    closing = CosS3Client(conf, retry=0)
    for i in range(50):
        closing.put_object(Bucket=bucket, Key=f"ka/{i}", Body=b"x")
        assert closing.head_object(Bucket=bucket, Key=f"ka/{i}")["Content-Length"] == "1"


def test_keys_beginning_with_a_slash(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="//lead.txt", Body=b"lead")
    assert [o["Key"] for o in client.list_objects(Bucket=bucket)["Contents"]] == ["/lead.txt"]
    assert client.get_object(Bucket=bucket, Key="//lead.txt")["Body"].get_raw_stream().read() == b"lead"


def test_bucket_already_owned_and_image_info(client: Any, bucket: str, server: LocalServer) -> None:
    owned = _error(lambda: client.create_bucket(Bucket=bucket))
    assert (owned.get_status_code(), owned.get_error_code()) == (409, "BucketAlreadyOwnedByYou")
    photo = jpeg(320, 200)
    client.put_object(Bucket=bucket, Key="p.jpg", Body=photo)
    before = server.stats().get("ci_get_image_info", 0)
    _, data = client.ci_get_image_info(Bucket=bucket, Key="p.jpg")
    assert server.stats()["ci_get_image_info"] == before + 1  # counted once
    info = json.loads(data)
    assert {k: info[k] for k in ("format", "width", "height", "size", "md5", "frame_count")} == {
        "format": "jpg", "width": "320", "height": "200", "size": str(len(photo)),
        "md5": hashlib.md5(photo).hexdigest(), "frame_count": "1"}
    exif = _error(lambda: client.ci_get_image_info(Bucket=bucket, Key="p.jpg", Param="exif"))
    assert (exif.get_status_code(), exif.get_error_code()) == (501, "NotImplemented")


def test_complete_honours_forbid_overwrite_and_keeps_the_upload(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="taken.bin", Body=b"first")
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="taken.bin")["UploadId"]
    part = client.upload_part(Bucket=bucket, Key="taken.bin", Body=b"second", PartNumber=1, UploadId=upload_id)
    parts = {"Part": [{"PartNumber": "1", "ETag": part["ETag"]}]}
    refused = _error(lambda: client.complete_multipart_upload(
        Bucket=bucket, Key="taken.bin", UploadId=upload_id, MultipartUpload=parts,
        Metadata={"x-cos-forbid-overwrite": "true"}))
    assert (refused.get_status_code(), refused.get_error_code()) == (409, "FileAlreadyExists")
    assert client.get_object(Bucket=bucket, Key="taken.bin")["Body"].get_raw_stream().read() == b"first"
    client.complete_multipart_upload(Bucket=bucket, Key="taken.bin", UploadId=upload_id, MultipartUpload=parts)
    assert client.get_object(Bucket=bucket, Key="taken.bin")["Body"].get_raw_stream().read() == b"second"


def test_upload_file_resumes_an_interrupted_upload(client: Any, bucket: str, tmp_path: Path) -> None:
    """upload_file finds the earlier upload of the key (list_multipart_uploads), checks its parts (list_parts)
    and uploads only the rest."""
    data = os.urandom(3 * MIB + 100)
    path = tmp_path / "resume.bin"
    path.write_bytes(data)
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="resume.bin")["UploadId"]
    client.upload_part(Bucket=bucket, Key="resume.bin", Body=data[:MIB], PartNumber=1, UploadId=upload_id)
    client.upload_file(Bucket=bucket, Key="resume.bin", LocalFilePath=str(path), PartSize=1)
    assert client.get_object(Bucket=bucket, Key="resume.bin")["Body"].get_raw_stream().read() == data
    assert "Upload" not in client.list_multipart_uploads(Bucket=bucket)


def test_list_multipart_uploads_and_parts_paginate(client: Any, bucket: str) -> None:
    ids = {key: client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
           for key in ("a/1", "a/2", "b/x/1", "b/y/2", "c")}
    rolled = client.list_multipart_uploads(Bucket=bucket, Delimiter="/", Prefix="b/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["b/x/", "b/y/"] and "Upload" not in rolled
    first = client.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert [u["Key"] for u in first["Upload"]] == ["a/1", "a/2"] and first["IsTruncated"] == "true"
    rest = client.list_multipart_uploads(Bucket=bucket, KeyMarker=first["NextKeyMarker"],
                                         UploadIdMarker=first["NextUploadIdMarker"])
    assert [u["Key"] for u in rest["Upload"]] == ["b/x/1", "b/y/2", "c"] and rest["IsTruncated"] == "false"
    for number in (1, 2, 3):
        client.upload_part(Bucket=bucket, Key="c", Body=b"p" * number, PartNumber=number, UploadId=ids["c"])
    page = client.list_parts(Bucket=bucket, Key="c", UploadId=ids["c"], MaxParts=2)
    assert [p["Size"] for p in page["Part"]] == ["1", "2"] and page["IsTruncated"] == "true"
    tail = client.list_parts(Bucket=bucket, Key="c", UploadId=ids["c"], PartNumberMarker=page["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in tail["Part"]] == ["3"] and tail["IsTruncated"] == "false"
