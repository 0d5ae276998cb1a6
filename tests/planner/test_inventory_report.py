"""Reading COS Inventory reports (``observe.inventory``): the documented layout, key decoding, and every way a report
can be unusable — each a clear ``InventoryError``, never a traceback."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from reconciler.errors import InventoryError
from reconciler.observe.inventories import Inventories
from reconciler.observe.inventory import decode_key, parse_location, read_report, report_objects
from reconciler.storage.inventory_report import encode_key, write_report
from reconciler.storage.memory import MemoryStorage

SRC, INV = "scale-1250000000", "inv-1250000000"
FOLDER = "inv/1250000000/scale-1250000000/cfg1/"
SCHEMA = "Appid, Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus"


def _row(key: str, size: int = 10, etag: str = "0cc175b9c0f1b6a831c399e269772661", bucket: str = SRC) -> str:
    return f'"1250000000","{bucket}","{key}","{size}","2026-12-01T10:00:00.000Z","{etag}","STANDARD","false",""\n'


def publish(storage: MemoryStorage, rows: list[str], *, date: str = "20261207", schema: str = SCHEMA,
            source: str = SRC, corrupt_file: bool = False, corrupt_checksum: bool = False) -> str:
    """Write a report as the cloud lays it out (what the sample in the reference folder shows)."""
    body = gzip.compress("".join(rows).encode(), mtime=0)
    data_key = f"{FOLDER}data/{date}-part-00000.csv.gz"
    storage.put_object(INV, data_key, body + (b"x" if corrupt_file else b""))
    manifest = {"sourceAppid": "1250000000", "sourceBucket": source, "destinationAppid": "1250000000",
                "destinationBucket": INV, "fileFormat": "CSV", "listObjectCount": str(len(rows)),
                "listStorageSize": "0", "filterObjectCount": str(len(rows)), "filterStorageSize": "0",
                "fileSchema": schema,
                "files": [{"key": data_key, "size": str(len(body)), "md5Checksum": hashlib.md5(body).hexdigest()}]}
    text = json.dumps(manifest).encode()
    key = f"{FOLDER}{date}/manifest.json"
    storage.put_object(INV, key, text)
    checksum = hashlib.md5(text + (b" " if corrupt_checksum else b"")).hexdigest()
    storage.put_object(INV, f"{FOLDER}{date}/manifest.checksum", checksum.encode())
    return key


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage({SRC: {}, INV: {}, "other-1250000000": {}})


def test_reads_the_documented_layout_and_decodes_every_key(storage: MemoryStorage) -> None:
    rows = [_row("img/00/07/%E4%B8%AD%E6%96%87-7.jpg"), _row("img/00/11/pct%2511.jpg"),
            _row("img/00/13/red%20shoe%2B1.jpg"), _row("img/form+encoded+key.jpg"), _row("out/a.jpg", 5, '""abc""')]
    key = publish(storage, rows)
    report = read_report(storage, INV, key)
    assert (report.source_bucket, report.config_id, report.day) == (SRC, "cfg1", "2026-12-07")
    found = list(report_objects(storage, report))
    assert [o.key for o in found] == ["img/00/07/中文-7.jpg", "img/00/11/pct%11.jpg", "img/00/13/red shoe+1.jpg",
                                      "img/form encoded key.jpg", "out/a.jpg"]
    assert found[-1].etag == "abc" and found[-1].size == 5  # quotes dropped, numbers read from strings
    assert [o.key for o in report_objects(storage, report, "img/00/1")] == ["img/00/11/pct%11.jpg",
                                                                            "img/00/13/red shoe+1.jpg"]


def test_the_folder_picks_the_newest_dated_manifest(storage: MemoryStorage) -> None:
    publish(storage, [_row("old.jpg")], date="20261130")
    publish(storage, [_row("new.jpg")], date="20261207")
    report = read_report(storage, INV, FOLDER)
    assert report.date == "20261207"
    assert [o.key for o in report_objects(storage, report)] == ["new.jpg"]


def test_writer_and_reader_agree_on_hostile_keys(storage: MemoryStorage) -> None:
    keys = ["a b+c%41.jpg", "中文/x.jpg", "plus+/sp ace", "q?x#y&z=1.jpg", "~tilde.jpg"]
    for k in keys:
        storage.put_object(SRC, k, k.encode())
    written = write_report(storage, SRC, INV, "inv", "cfg1", rows_per_file=2)
    assert written.files == 3 and written.objects == len(keys)
    report = read_report(storage, INV, written.manifest_key)
    assert sorted(o.key for o in report_objects(storage, report)) == sorted(keys)
    assert all(decode_key(encode_key(k)) == k for k in keys)


@pytest.mark.parametrize("case, message", [
    ("file", "MD5"), ("checksum", "manifest.checksum"), ("schema", "lacks ETag"), ("other", "sits in the folder"),
    ("row-bucket", "an object of bucket"), ("missing", "no <YYYYMMDD>/manifest.json"),
])
def test_unusable_reports_are_clear_errors(storage: MemoryStorage, case: str, message: str) -> None:
    rows = [_row("a.jpg")] if case != "row-bucket" else [_row("a.jpg", bucket="other-1250000000")]
    if case != "missing":
        publish(storage, rows, corrupt_file=case == "file", corrupt_checksum=case == "checksum",
                schema=SCHEMA.replace(", ETag", "") if case == "schema" else SCHEMA,
                source="other-1250000000" if case == "other" else SRC)
    with pytest.raises(InventoryError, match=message):
        report = read_report(storage, INV, FOLDER)
        list(report_objects(storage, report))


def test_a_report_must_list_a_bucket_the_sets_read(storage: MemoryStorage) -> None:
    publish(storage, [_row("a.jpg")])
    with pytest.raises(InventoryError, match="which no set given reads"):
        Inventories.open([f"cos://{INV}/{FOLDER}"], lambda region: storage, ["ap-guangzhou"], {"photos-125"})
    with pytest.raises(InventoryError, match="two inventory reports"):
        Inventories.open([f"cos://{INV}/{FOLDER}"] * 2, lambda region: storage, ["ap-guangzhou"], {SRC})
    with pytest.raises(InventoryError, match="expected cos://"):
        parse_location("s3://x/y")


def test_rows_of_the_wrong_width_and_bad_gzip_are_located(storage: MemoryStorage) -> None:
    publish(storage, ['"1250000000","scale-1250000000","a.jpg"\n'])
    report = read_report(storage, INV, FOLDER)
    with pytest.raises(InventoryError, match="line 1: 3 fields"):
        list(report_objects(storage, report))
    body = b"not gzip"
    storage.put_object(INV, report.files[0].key, body)
    bad = report.__class__(**{**report.__dict__, "files": (report.files[0].__class__(
        report.files[0].key, len(body), hashlib.md5(body).hexdigest()),)})
    with pytest.raises(InventoryError, match="not a gzip CSV"):
        list(report_objects(storage, bad))


def test_each_data_file_is_fetched_once_for_every_prefix_listed(storage: MemoryStorage) -> None:
    publish(storage, [_row("img/a.jpg"), _row("out/a.jpg"), _row("img/b.jpg")])
    gets: list[str] = []
    original = storage.get_object

    def counted(bucket: str, key: str) -> bytes:
        gets.append(key)
        return original(bucket, key)

    storage.get_object = counted  # type: ignore[method-assign]
    inventories = Inventories.open([f"cos://{INV}/{FOLDER}"], lambda region: storage, ["ap-guangzhou"], {SRC})
    listing = inventories.storage(storage)
    assert [o.key for o in listing.list_objects(SRC, "img/")] == ["img/a.jpg", "img/b.jpg"]
    assert [o.key for o in listing.list_objects(SRC, "out/")] == ["out/a.jpg"]
    assert [o.key for o in listing.list_objects(SRC, "img/", start_after="img/a.jpg")] == ["img/b.jpg"]
    assert sum(1 for k in gets if k.endswith(".csv.gz")) == 1
