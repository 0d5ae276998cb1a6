"""Issue 24: what cos-python-sdk-v5's own suite sends that the local server answered wrongly — Cloud Infinite's
service hosts (501, never a signature error), Upload Part - Copy as the SDK sends it, presigned URLs without a
signed host, server-side encryption, storage classes and the auditing APIs — each through the real SDK."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from reconciler.local.ci_service import parse_ci_host

REGION = "ap-guangzhou"
APPID = "1250000000"


@pytest.fixture
def proxied(server: LocalServer) -> Any:
    """A client reaching every host (cos, ci, pic) through the server as its HTTP proxy: the request line is the
    absolute URL and Host is the cloud's host name, as the SDK's suite runs against a stand-in."""
    conf = CosConfig(Region=REGION, SecretId=server.secret_id, SecretKey=server.secret_key, Scheme="http",
                     Proxies={"http": server.endpoint}, Appid=APPID, Timeout=30)
    return CosS3Client(conf, retry=0)


def _error(call: Any) -> CosServiceError:
    logging.disable(logging.ERROR)
    try:
        with pytest.raises(CosServiceError) as info:
            call()
    finally:
        logging.disable(logging.NOTSET)
    return info.value


def test_ci_service_hosts_are_recognised() -> None:
    assert parse_ci_host("photos-1250000000.ci.ap-guangzhou.myqcloud.com") is not None
    host = parse_ci_host("1250000000.ci.ap-beijing.myqcloud.com")
    assert host is not None and (host.owner, host.region, host.bucket) == ("1250000000", "ap-beijing", None)
    assert parse_ci_host("ci.ap-guangzhou.myqcloud.com") is not None
    assert parse_ci_host("photos-1250000000.cos.ap-guangzhou.myqcloud.com") is None
    assert parse_ci_host("photos-1250000000.pic.ap-guangzhou.myqcloud.com") is None


def test_ci_service_requests_are_501_never_a_signature_error(proxied: Any, bucket: str) -> None:
    proxied.put_object(Bucket=bucket, Key="a.jpg", Body=b"x")
    calls = {
        "queue": lambda: proxied.ci_get_media_queue(Bucket=bucket),
        "picbucket": lambda: proxied.ci_get_pic_bucket(),
        "image auditing": lambda: proxied.ci_auditing_image_batch(Bucket=bucket, Input=[{"Object": "a.jpg"}]),
        "text auditing": lambda: proxied.ci_auditing_text_submit(Bucket=bucket, Key="a.jpg"),
    }
    for name, call in calls.items():
        err = _error(call)
        assert (err.get_status_code(), err.get_error_code()) == (501, "NotImplemented"), name
        assert "not implemented by the local server" in err.get_error_msg(), name
    assert proxied.get_object(Bucket=bucket, Key="a.jpg")["Body"].get_raw_stream().read() == b"x"  # cos: served


def test_advanced_formats_need_advanced_compression_on_the_bucket(server: LocalServer, client: Any,
                                                                  bucket: str) -> None:
    """436/42215: AVIF, HEIF/HEIC and TPG output need image advanced compression enabled on the bucket first;
    off by default, as on a new bucket."""
    from tests.local.conftest import jpeg

    client.put_object(Bucket=bucket, Key="a.jpg", Body=jpeg(64, 48))
    ops = '{"rules":[{"fileid":"/a.avif","rule":"imageMogr2/format/avif"}]}'
    err = _error(lambda: client.ci_image_process(Bucket=bucket, Key="a.jpg", PicOperations=ops))
    assert err.get_status_code() == 400 and "<Code>-60998</Code>" in err.get_origin_msg()
    assert "advanced compression" in err.get_origin_msg()
    server.set_bucket_ci(bucket, advanced_compression=True)
    _, reply = client.ci_image_process(Bucket=bucket, Key="a.jpg", PicOperations=ops)
    assert reply["ProcessResults"]["Object"]["Format"] == "avif"
    heif = '{"rules":[{"fileid":"/a.heic","rule":"imageMogr2/format/heic"}]}'  # on, but no local encoder: 501
    err = _error(lambda: client.ci_image_process(Bucket=bucket, Key="a.jpg", PicOperations=heif))
    assert err.get_status_code() == 501


def test_style_names_with_an_enabled_separator_are_refused(server: LocalServer, client: Any, bucket: str) -> None:
    client.ci_put_image_style(Bucket=bucket, Request={"StyleName": "thumb-small", "StyleBody": "imageMogr2/strip"})
    server.set_bucket_ci(bucket, style_separators="-")
    err = _error(lambda: client.ci_put_image_style(Bucket=bucket, Request={"StyleName": "big-one",
                                                                           "StyleBody": "imageMogr2/strip"}))
    assert err.get_status_code() == 400 and "style separator" in err.get_origin_msg()
    client.ci_put_image_style(Bucket=bucket, Request={"StyleName": "big_one", "StyleBody": "imageMogr2/strip"})


def test_upload_part_copy_as_the_sdk_sends_it(client: Any, bucket: str) -> None:
    """The SDK sends x-cos-copy-source-range even when no range is given (empty): the whole source is copied;
    bytes=first-last copies that range."""
    source = bytes(range(256)) * 8192  # 2 MiB
    client.put_object(Bucket=bucket, Key="src.bin", Body=source)
    upload = client.create_multipart_upload(Bucket=bucket, Key="joined.bin")["UploadId"]
    copy_source = {"Bucket": bucket, "Key": "src.bin", "Region": REGION}
    first = client.upload_part_copy(Bucket=bucket, Key="joined.bin", UploadId=upload, PartNumber=1,
                                    CopySource=copy_source)
    second = client.upload_part_copy(Bucket=bucket, Key="joined.bin", UploadId=upload, PartNumber=2,
                                     CopySource=copy_source, CopySourceRange="bytes=0-9")
    parts = {"Part": [{"PartNumber": "1", "ETag": first["ETag"]}, {"PartNumber": "2", "ETag": second["ETag"]}]}
    client.complete_multipart_upload(Bucket=bucket, Key="joined.bin", UploadId=upload, MultipartUpload=parts)
    body = client.get_object(Bucket=bucket, Key="joined.bin")["Body"].get_raw_stream().read()
    assert body == source + source[:10]


def test_server_side_encryption_aes256_is_stored_and_echoed(client: Any, bucket: str) -> None:
    put = client.put_object(Bucket=bucket, Key="sse.txt", Body=b"123", ServerSideEncryption="AES256")
    assert put["x-cos-server-side-encryption"] == "AES256"
    assert client.get_object(Bucket=bucket, Key="sse.txt")["x-cos-server-side-encryption"] == "AES256"
    assert client.head_object(Bucket=bucket, Key="sse.txt")["x-cos-server-side-encryption"] == "AES256"
    err = _error(lambda: client.put_object(Bucket=bucket, Key="kms.txt", Body=b"1", ServerSideEncryption="cos/kms"))
    assert err.get_status_code() == 501  # not done: refused, never silently ignored
    assert "kms.txt" not in [c["Key"] for c in client.list_objects(Bucket=bucket).get("Contents", [])]


def test_a_copy_changing_the_storage_class_is_honoured(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="c.txt", Body=b"x")
    assert "x-cos-storage-class" not in client.head_object(Bucket=bucket, Key="c.txt")  # STANDARD: not returned
    client.change_object_storage_class(Bucket=bucket, Key="c.txt", StorageClass="STANDARD_IA")
    assert client.head_object(Bucket=bucket, Key="c.txt")["x-cos-storage-class"] == "STANDARD_IA"
    listed = client.list_objects(Bucket=bucket, Prefix="c.txt")["Contents"][0]
    assert listed["StorageClass"] == "STANDARD_IA"
    client.change_object_storage_class(Bucket=bucket, Key="c.txt", StorageClass="STANDARD")
    assert "x-cos-storage-class" not in client.head_object(Bucket=bucket, Key="c.txt")
    err = _error(lambda: client.change_object_storage_class(Bucket=bucket, Key="c.txt", StorageClass="ARCHIVE"))
    assert err.get_status_code() == 501
    assert client.get_object(Bucket=bucket, Key="c.txt")["Body"].get_raw_stream().read() == b"x"
