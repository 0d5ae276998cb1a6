"""CosStorage listing against the local server through the real SDK: the fast path (the SDK's request path,
ElementTree parsing) and the fallback (``client.list_objects``) return exactly what the SDK itself lists —
odd keys, pagination, prefixes, start_after, missing buckets — and transport failures read as one clear line."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client

import reconciler.storage.cos as cos
from reconciler.errors import NotFound, StorageError
from reconciler.local import LocalServer
from reconciler.model import ObjectInfo
from reconciler.storage.cos import CosStorage, connection_message, fast_listing_supported, parse_list_page

BUCKET = "listing-1250000000"
REGION = "ap-guangzhou"
ODD_KEYS = [
    "odd/ünïcødé/照片 1.jpg",
    "odd/with space.jpg",
    "odd/a+b=c&d?e%f.jpg",
    "odd/%2F already%20encoded%.jpg",
    "odd/#hash;semi:colon,comma'quote\"dq<lt>gt.jpg",
    "odd/" + "long-" * 140 + ".jpg",
    "odd/trailing/",
]
MANY = [f"many/{i:05d}.jpg" for i in range(2345)]
OTHER = ["other/a.jpg", "manz.jpg", "man/y.jpg"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(tmp_path_factory.mktemp("cos-listing"), buckets=[BUCKET], ci_qps=0) as srv:
        for i, key in enumerate(ODD_KEYS + MANY + OTHER):
            srv.store.put(BUCKET, key, b"x" * (i % 13))
        yield srv


def _storage(server: LocalServer, fast: bool) -> CosStorage:
    storage = CosStorage(region=REGION, endpoint=server.endpoint, secret_id=server.secret_id,
                         secret_key=server.secret_key, pool_size=4)
    assert storage._fast_listing, "this SDK supports the fast path"
    storage._fast_listing = fast
    return storage


@pytest.fixture(params=[True, False], ids=["fast", "sdk-fallback"])
def storage(request: pytest.FixtureRequest, server: LocalServer) -> CosStorage:
    return _storage(server, bool(request.param))


@pytest.fixture(scope="module")
def sdk(server: LocalServer) -> Any:
    conf = CosConfig(Region=REGION, SecretId=server.secret_id, SecretKey=server.secret_key, Scheme="http",
                     IP="127.0.0.1", Port=server.port)
    return CosS3Client(conf, retry=0, session=requests.Session())


def sdk_listing(client: Any, bucket: str, prefix: str, marker: str = "") -> list[tuple[str, str, int]]:
    """What the bare SDK lists: (key, etag without quotes, size), marker pagination."""
    out: list[tuple[str, str, int]] = []
    while True:
        page = client.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=1000)
        contents = page.get("Contents", [])
        out += [(c["Key"], c["ETag"].strip('"'), int(c["Size"])) for c in contents]
        if page.get("IsTruncated") != "true":
            return out
        marker = page.get("NextMarker") or contents[-1]["Key"]


def triples(objects: list[ObjectInfo]) -> list[tuple[str, str, int]]:
    return [(o.key, o.etag, o.size) for o in objects]


def test_odd_keys_round_trip_exactly_as_the_sdk_lists_them(storage: CosStorage, sdk: Any) -> None:
    listed = list(storage.list_objects(BUCKET, "odd/"))
    assert sorted(o.key for o in listed) == sorted(ODD_KEYS)
    assert triples(listed) == sdk_listing(sdk, BUCKET, "odd/")
    assert all(len(o.etag) == 32 and '"' not in o.etag for o in listed)
    assert all(o.last_modified.startswith("20") for o in listed)


def test_pagination_over_1000_keys_under_a_prefix(storage: CosStorage, sdk: Any, server: LocalServer) -> None:
    before = server.stats().get("list_objects", 0)
    listed = list(storage.list_objects(BUCKET, "many/"))
    assert server.stats()["list_objects"] - before == 3  # 1000 + 1000 + 345
    assert [o.key for o in listed] == MANY  # sorted, complete, nothing from many-lookalike prefixes
    assert triples(listed) == sdk_listing(sdk, BUCKET, "many/")


def test_empty_prefix_lists_the_whole_bucket(storage: CosStorage, sdk: Any) -> None:
    listed = list(storage.list_objects(BUCKET))
    assert sorted(o.key for o in listed) == sorted(ODD_KEYS + MANY + OTHER)
    assert triples(listed) == sdk_listing(sdk, BUCKET, "")


def test_start_after(storage: CosStorage, sdk: Any) -> None:
    listed = list(storage.list_objects(BUCKET, "many/", start_after="many/01499.jpg"))
    assert [o.key for o in listed] == MANY[1500:]
    assert triples(listed) == sdk_listing(sdk, BUCKET, "many/", marker="many/01499.jpg")
    odd_after = sorted(ODD_KEYS)[2]
    assert [o.key for o in storage.list_objects(BUCKET, "odd/", start_after=odd_after)] == sorted(ODD_KEYS)[3:]


def test_a_prefix_with_nothing_under_it(storage: CosStorage) -> None:
    assert list(storage.list_objects(BUCKET, "nothing/here/")) == []


def test_missing_bucket_is_not_found_with_code_and_request_id(storage: CosStorage) -> None:
    with pytest.raises(NotFound) as caught:
        list(storage.list_objects("absent-1250000000", "x/"))
    error = caught.value
    assert isinstance(error, StorageError)
    assert (error.code, error.status, error.bucket) == ("NoSuchBucket", 404, "absent-1250000000")
    assert not error.retryable
    assert error.request_id and error.request_id in str(error)
    assert str(error).startswith("absent-1250000000/x/: list failed: ")


def test_wrong_credentials_are_a_storage_error_not_a_listing(server: LocalServer) -> None:
    for fast in (True, False):
        storage = CosStorage(region=REGION, endpoint=server.endpoint, secret_id=server.secret_id,
                             secret_key="wrong-key", pool_size=2)
        storage._fast_listing = fast
        with pytest.raises(StorageError) as caught:
            list(storage.list_objects(BUCKET, "odd/"))
        assert caught.value.status == 403 and caught.value.code and "wrong-key" not in str(caught.value)


def test_fast_path_sends_what_the_sdk_sends(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same URL, params, signing and session as CosS3Client.list_objects: record both requests."""
    seen: list[tuple[str, dict[str, Any], str]] = []
    original = requests.Session.get

    def spy(self: requests.Session, url: str, **kwargs: Any) -> Any:
        seen.append((url, dict(kwargs.get("params") or {}), type(kwargs.get("auth")).__name__))
        return original(self, url, **kwargs)

    monkeypatch.setattr(requests.Session, "get", spy)
    for fast in (True, False):
        list(_storage(server, fast).list_objects(BUCKET, "odd/", start_after="odd/a"))
    assert len(seen) == 2 and seen[0] == seen[1]
    url, params, auth = seen[0]
    assert url == f"http://127.0.0.1:{server.port}/" and auth == "CosS3Auth"
    assert (params["encoding-type"], params["marker"], params["prefix"], params["max-keys"]) == (
        b"url", b"odd/a", b"odd/", 1000)


def test_falls_back_to_list_objects_when_the_sdk_lacks_the_request_path(
        server: LocalServer, monkeypatch: pytest.MonkeyPatch, sdk: Any) -> None:
    assert fast_listing_supported(sdk)
    assert not fast_listing_supported(object())
    monkeypatch.setattr(cos, "CosS3Auth", None)
    storage = CosStorage(region=REGION, endpoint=server.endpoint, secret_id=server.secret_id,
                         secret_key=server.secret_key, pool_size=2)
    assert not storage._fast_listing
    assert triples(list(storage.list_objects(BUCKET, "many/"))) == sdk_listing(sdk, BUCKET, "many/")


def test_truncated_page_without_next_marker_continues_after_the_last_key(
        server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = _storage(server, True)
    markers: list[str] = []
    pages = {"": ["p/a", "p/b"], "p/b": ["p/c"]}

    def page(bucket: str, prefix: str, marker: str) -> Any:
        markers.append(marker)
        keys = pages[marker]
        return cos._Page([ObjectInfo(key=k, etag="e", size=1) for k in keys], marker == "", "")

    monkeypatch.setattr(storage, "_list_page", page)
    assert [o.key for o in storage.list_objects(BUCKET, "p/")] == ["p/a", "p/b", "p/c"]
    assert markers == ["", "p/b"]


def test_parse_list_page_decodes_like_the_sdk_and_ignores_namespaces() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>'
            b'<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextMarker>p/a%20b%2Bc</NextMarker>'
            b'<Contents><Key>p/%E7%85%A7%20x%2B%3D%26%3F%25</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>'
            b'<ETag>&quot;abc-2&quot;</ETag><Size>42</Size><Owner><ID>1</ID></Owner></Contents></ListBucketResult>')
    page = parse_list_page(body)
    assert page.truncated and page.next_marker == "p/a b+c"
    assert page.objects == [ObjectInfo(key="p/照 x+=&?%", etag="abc-2", size=42,
                                       last_modified="2026-01-01T00:00:00.000Z")]
    empty = parse_list_page(b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
    assert empty.objects == [] and not empty.truncated and empty.next_marker == ""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_one_clear_line(tmp_path: Path) -> None:
    port = _closed_port()
    storage = CosStorage(region=REGION, endpoint=f"http://127.0.0.1:{port}", secret_id="id", secret_key="k",
                         pool_size=1, timeout=5)
    with pytest.raises(StorageError) as caught:
        storage.get_object("shop-1250000000", ".cosrecon/shop/ledger.json")
    error = caught.value
    assert (error.code, error.retryable) == ("ConnectionError", True)
    assert str(error) == (f"shop-1250000000/.cosrecon/shop/ledger.json: GET failed: cannot connect to "
                          f"127.0.0.1:{port} (connection refused) (ConnectionError)")
    for fast in (True, False):
        storage._fast_listing = fast
        with pytest.raises(StorageError) as listed:
            list(storage.list_objects("shop-1250000000", "photos/"))
        assert listed.value.code == "ConnectionError" and listed.value.retryable
        assert listed.value.detail == f"list failed: cannot connect to 127.0.0.1:{port} (connection refused)"


@pytest.mark.parametrize("raw, expected", [
    ("HTTPConnectionPool(host='127.0.0.1', port=9312): Max retries exceeded with url: /x?a=1 (Caused by "
     "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new "
     "connection: [Errno 111] Connection refused'))", "cannot connect to 127.0.0.1:9312 (connection refused)"),
    ("HTTPSConnectionPool(host='b-1.cos.ap-x.myqcloud.com', port=443): Max retries exceeded with url: / (Caused by "
     "NameResolutionError(\"<urllib3.connection.HTTPSConnection object>: Failed to resolve 'b-1' ([Errno -2] "
     "Name or service not known)\"))", "cannot connect to b-1.cos.ap-x.myqcloud.com:443 (host name not found)"),
    ("HTTPConnectionPool(host='10.0.0.9', port=80): Read timed out. (read timeout=30)",
     "no reply from 10.0.0.9:80 in time (read timed out)"),
    ("('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
     "connection to the server lost (connection reset)"),
])
def test_connection_messages(raw: str, expected: str) -> None:
    assert connection_message(raw) == expected


def test_the_parallel_listing_over_http_is_the_listing(storage: CosStorage, server: LocalServer) -> None:
    from reconciler.observe.parallel import parallel_objects

    server.store.put(BUCKET, "many/sub/deep.jpg", b"x")  # a folder inside the key space, listed on its own
    try:
        for prefix in ("", "many/", "odd/"):
            assert list(parallel_objects(storage, BUCKET, prefix, workers=4)) == list(storage.list_objects(BUCKET, prefix))
        before = server.stats().get("list_objects", 0)
        listed = list(parallel_objects(storage, BUCKET, "", workers=4))
        used = server.stats()["list_objects"] - before
        assert len(listed) == len(ODD_KEYS + MANY + OTHER) + 1 and used > 3  # first page, the level, the folders
    finally:
        server.store.delete(BUCKET, "many/sub/deep.jpg")
