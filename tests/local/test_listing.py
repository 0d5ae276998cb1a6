"""Bucket listing through the real SDK (prefix, delimiter, marker, max-keys, URL encoding of odd keys,
truncation, byte-wise order) and the store's paging checked against a brute-force model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.local import LocalStore

ODD_KEYS = ["a b.txt", "a+b=c&d?e.txt", "percent%2Fslash", "unicode/日本語.jpg", "tab\tkey", "emoji/😀.png",
            "Zupper", "~tilde", "a/b/c/d.txt", "a/b/e.txt", "a/f.txt", "lt<gt>amp&.xml", "quote\"'.txt",
            "dots/../up.txt", "trailing/", "sp ace/x"]


def _all(client: Any, bucket: str, **kwargs: Any) -> tuple[list[str], list[str], int]:
    keys: list[str] = []
    prefixes: list[str] = []
    marker, pages = "", 0
    while True:
        page = client.list_objects(Bucket=bucket, Marker=marker, **kwargs)
        pages += 1
        keys += [c["Key"] for c in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if page["IsTruncated"] == "false":
            assert "NextMarker" not in page
            return keys, prefixes, pages
        marker = page["NextMarker"]


def test_odd_keys_round_trip_in_byte_order(client: Any, bucket: str) -> None:
    for key in ODD_KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    keys, prefixes, _ = _all(client, bucket)
    assert keys == sorted(ODD_KEYS, key=lambda k: k.encode("utf-8")) and prefixes == []
    for key in ODD_KEYS:
        assert client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read() == key.encode()


def test_prefix_delimiter_marker(client: Any, bucket: str) -> None:
    for key in ["a/1", "a/2", "a/b/1", "a/c/1", "a/c/2", "b/1", "top"]:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    page = client.list_objects(Bucket=bucket, Delimiter="/")
    assert [c["Key"] for c in page["Contents"]] == ["top"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/", "b/"]
    page = client.list_objects(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [c["Key"] for c in page["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/b/", "a/c/"]
    page = client.list_objects(Bucket=bucket, Prefix="a/", Marker="a/2")
    assert [c["Key"] for c in page["Contents"]] == ["a/b/1", "a/c/1", "a/c/2"]
    page = client.list_objects(Bucket=bucket, Delimiter="/", Marker="a/c/1")  # a marker inside a rolled-up prefix
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["b/"] and [c["Key"] for c in page["Contents"]] == ["top"]
    page = client.list_objects(Bucket=bucket, Prefix="a/", Delimiter="/", MaxKeys=3)
    assert page["IsTruncated"] == "true" and page["NextMarker"] == "a/b/"
    page = client.list_objects(Bucket=bucket, Prefix="a/", Delimiter="/", Marker="a/b/", MaxKeys=3)
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/c/"] and page["IsTruncated"] == "false"
    empty = client.list_objects(Bucket=bucket, Prefix="zzz")  # like COS: no Contents element at all
    assert "Contents" not in empty and empty["IsTruncated"] == "false"


def test_truncation_and_max_keys(client: Any, bucket: str, server: Any) -> None:
    server.store.put_many(bucket, [(f"k/{i:05d}", b"") for i in range(2500)])
    page = client.list_objects(Bucket=bucket, Prefix="k/")
    assert len(page["Contents"]) == 1000 and page["IsTruncated"] == "true" and page["NextMarker"] == "k/00999"
    keys, _, pages = _all(client, bucket, Prefix="k/", MaxKeys=1000)
    assert keys == [f"k/{i:05d}" for i in range(2500)] and pages == 3
    keys, _, pages = _all(client, bucket, Prefix="k/0000", MaxKeys=3)
    assert keys == [f"k/0000{i}" for i in range(10)] and pages == 4
    page = client.list_objects(Bucket=bucket, Prefix="k/", MaxKeys=5000)  # clamped to 1000
    assert len(page["Contents"]) == 1000


_alphabet = st.sampled_from(["a", "b", "/", "é", "-", "~", "z", "\x7f"])


@settings(max_examples=60, deadline=None)
@given(keys=st.sets(st.text(_alphabet, min_size=1, max_size=6), max_size=25),
       prefix=st.text(_alphabet, max_size=2), delimiter=st.sampled_from(["", "/", "b"]),
       max_keys=st.integers(1, 7))
def test_paging_matches_a_brute_force_model(tmp_path_factory: Any, keys: set[str], prefix: str, delimiter: str,
                                            max_keys: int) -> None:
    store = LocalStore(Path(tmp_path_factory.mktemp("model")))
    store.put_many("m", [(k, b"") for k in keys])
    expected: list[str] = []
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        entry = prefix + rest[: rest.index(delimiter) + len(delimiter)] if delimiter and delimiter in rest else key
        if not expected or expected[-1] != entry:
            expected.append(entry)
    seen: list[str] = []
    marker = ""
    for _ in range(100):
        page = store.list_page("m", prefix, delimiter, marker, max_keys)
        entries = sorted([o.key for o in page.objects] + list(page.prefixes), key=lambda k: k.encode())
        assert len(entries) <= max_keys
        seen += entries
        if not page.truncated:
            break
        marker = page.next_marker
    store.close()
    assert seen == expected
