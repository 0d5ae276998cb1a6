"""The in-memory Storage the tests share behaves as CosStorage does where callers can tell."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import NotFound, StorageError
from reconciler.storage.memory import MemoryStorage

B, C = "src-1250000000", "cdn-1250000000"


def test_listing_is_in_key_order_after_start_after_and_recorded() -> None:
    storage = MemoryStorage({B: {"img/b.jpg": "e2", "img/a.jpg": "e1", "other/c.jpg": "e3"}})
    assert [(o.key, o.etag) for o in storage.list_objects(B, "img/")] == [("img/a.jpg", "e1"), ("img/b.jpg", "e2")]
    assert [o.key for o in storage.list_objects(B, start_after="img/a.jpg")] == ["img/b.jpg", "other/c.jpg"]
    assert storage.lists == [(B, "img/"), (B, "")] and storage.writes == []


def test_missing_bucket_and_key() -> None:
    storage = MemoryStorage({B: {}})
    with pytest.raises(NotFound, match="NoSuchBucket"):
        list(storage.list_objects(C))
    with pytest.raises(NotFound, match="NoSuchKey"):
        storage.get_object(B, "absent.jpg")
    assert storage.head_object(B, "absent.jpg") is None and storage.heads == [(B, "absent.jpg")]
    storage.delete_objects(B, ["absent.jpg"])  # missing keys are not an error


def test_put_get_delete_and_create_only() -> None:
    storage = MemoryStorage({B: {}})
    etag = storage.put_object(B, "a.txt", b"hello")
    assert etag == "5d41402abc4b2a76b9719d911017c592" and storage.get_object(B, "a.txt") == b"hello"
    head = storage.head_object(B, "a.txt")
    assert head is not None and (head.etag, head.size) == (etag, 5)
    with pytest.raises(StorageError) as refused:
        storage.put_object(B, "a.txt", b"other", forbid_overwrite=True)
    assert (refused.value.status, refused.value.code) == (409, "FileAlreadyExists")
    assert storage.get_object(B, "a.txt") == b"hello"
    storage.delete_object(B, "a.txt")
    assert storage.head_object(B, "a.txt") is None


def test_process_writes_each_rule_where_its_fileid_resolves() -> None:
    storage = MemoryStorage({B: {}, C: {}})
    storage.put_object(B, "img/2024/a.jpg", b"jpeg")
    rules = [{"fileid": "/thumbs/a.webp", "rule": "imageMogr2/format/webp"},
             {"fileid": "small/a.jpg", "rule": "imageMogr2/thumbnail/9x"},
             {"bucket": C, "fileid": "/cdn/a.png", "rule": "imageMogr2/format/png"}]
    result = storage.process(B, "img/2024/a.jpg", json.dumps({"is_pic_info": 0, "rules": rules}))
    assert [o.key for o in result.objects] == ["thumbs/a.webp", "img/2024/small/a.jpg", "cdn/a.png"]
    assert sorted(storage.buckets[B]) == ["img/2024/a.jpg", "img/2024/small/a.jpg", "thumbs/a.webp"]
    assert list(storage.buckets[C]) == ["cdn/a.png"] and storage.process_calls == 1
    assert all(o.etag != storage.buckets[B].get(o.key) for o in result.objects)  # the reply's ETag is not HEAD's
    with pytest.raises(NotFound, match="NoSuchKey"):
        storage.process(B, "img/absent.jpg", json.dumps({"rules": rules}))
