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
