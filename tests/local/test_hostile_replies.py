"""Replies the SDK can always parse, and numbers and names refused as COS would (issue 22): no reply XML carries a
raw control character (listings URL-encode keys when asked, as the SDK always does; otherwise tab, LF, CR, DEL and
C1 controls are character references and what XML 1.0 cannot carry is percent-encoded); ``partNumber`` takes
ASCII digits only; an image style named ``.`` or ``..`` is refused. Through cos-python-sdk-v5 or a signed raw
request against the shared local server; refusals change nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from reconciler.local.replies import delete_result, el
from tests.local.conftest import jpeg
from tests.local.hostile_http import host_of, raw, signed_auth

KEYS = ["ctl\x01a.txt", "cr\rb.txt", "lf\nc.txt", "tab\td.txt", "esc\x1be.txt", "del\x7ff.txt", "c1\x85g.txt",
        "bidi\u202eh.txt", "ls\u2028i.txt", "amp&<j>.txt", "crlf\r\nk.txt"]
EXACT = [k for k in KEYS if not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", k)]  # what XML 1.0 can carry exactly
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _no_raw_control(body: bytes) -> None:
    text = body.decode("utf-8")
    head, _, rest = text.partition("?>\n")  # the XML declaration's own line end
    assert not RAW_CONTROL.search(rest), repr(rest)


def test_listing_round_trips_hostile_keys_through_the_sdk(client: Any, bucket: str) -> None:
    for key in KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = client.list_objects(Bucket=bucket, MaxKeys=1000)  # the SDK sends encoding-type=url
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(KEYS)


def test_a_listing_without_encoding_type_has_no_raw_control_character(server: LocalServer, client: Any,
                                                                      bucket: str) -> None:
    for key in KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    auth = signed_auth(server, "GET", "", {"host": host_of(bucket)})
    status, body = raw(server, "GET", "/", [("Host", host_of(bucket)), ("Authorization", auth)])
    assert status == 200
    _no_raw_control(body)
    keys = [e.text or "" for e in ET.fromstring(body).iter("Key")]
    assert set(EXACT) <= set(keys)  # CR, LF, tab, DEL, C1, bidi: back exactly from a plain XML parser
    assert "ctl%01a.txt" in keys and "esc%1Be.txt" in keys  # XML 1.0 cannot carry these: percent-encoded


def test_processing_and_multipart_replies_with_hostile_keys_parse_in_the_sdk(client: Any, bucket: str) -> None:
    source = "img\x01\r\u202e.jpg"
    client.put_object(Bucket=bucket, Key=source, Body=jpeg(64, 48))
    ops = '{"is_pic_info":1,"rules":[{"fileid":"/out/esc%1Bcr%0D.jpg","rule":"imageMogr2/thumbnail/8x"}]}'
    _, result = client.ci_image_process(Bucket=bucket, Key=source, PicOperations=ops)  # parsed: no ParseError
    assert result["OriginalInfo"]["Key"] == "img%01\r\u202e.jpg"
    assert client.head_object(Bucket=bucket, Key="out/esc\x1bcr\r.jpg")["Content-Length"]

    key = "mp\x02\r\n.bin"
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)
    part = client.upload_part(Bucket=bucket, Key=key, Body=b"p" * 10, PartNumber=1, UploadId=upload["UploadId"])
    done = client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                            MultipartUpload={"Part": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["Key"] == "mp%02\r\n.bin"
    assert client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read() == b"p" * 10


def test_every_element_escapes_what_xml_cannot_carry_raw() -> None:
    for key in KEYS:
        ET.fromstring(el("Key", key))  # parses
        _no_raw_control(b"?>\n" + el("Key", key).encode())
    body = delete_result(KEYS, [("bad\x03key", "AccessDenied", "no \x04 access")], quiet=False)
    _no_raw_control(body)
    assert [e.text for e in ET.fromstring(body).iter("Key")][:len(KEYS)] == [
        k if k in EXACT else re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"%{ord(m.group()):02X}", k)
        for k in KEYS]


@pytest.mark.parametrize("number", ["\u00b2", "\u0661", "+1", " 1", "1_0", "0x1", "-1", "", "10001", "0"])
def test_part_number_takes_ascii_digits_only(client: Any, bucket: str, number: str) -> None:
    upload = client.create_multipart_upload(Bucket=bucket, Key="parts.bin")
    with pytest.raises(CosServiceError) as exc:
        client.upload_part(Bucket=bucket, Key="parts.bin", Body=b"p", PartNumber=number, UploadId=upload["UploadId"])
    assert exc.value.get_status_code() == 400 and exc.value.get_error_code() == "InvalidArgument"
    assert client.list_parts(Bucket=bucket, Key="parts.bin", UploadId=upload["UploadId"]).get("Part", []) == []


@pytest.mark.parametrize("name", [".", ".."])
def test_a_style_named_dot_or_dot_dot_is_refused(client: Any, bucket: str, name: str) -> None:
    with pytest.raises(CosServiceError) as exc:
        client.ci_put_image_style(Bucket=bucket, Request={"StyleName": name, "StyleBody": "imageMogr2/thumbnail/8x"})
    assert exc.value.get_status_code() == 400
    _, listed = client.ci_get_image_style(Bucket=bucket, Request={})
    assert not (listed or {}).get("StyleRule")
    client.ci_put_image_style(Bucket=bucket, Request={"StyleName": "...", "StyleBody": "imageMogr2/thumbnail/8x"})
