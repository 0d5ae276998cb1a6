"""Reading a COS Inventory report (``--inventory``): the manifest, its checksum, and the objects of its gzip CSV
files, streamed and checked, in the documented layout.

Layout (COS inventory overview; PUT Bucket inventory, 436/30625): ``<prefix>/<appid>/<source-bucket>/<config-id>/
<YYYYMMDD>/manifest.json`` and ``manifest.checksum`` (the MD5 of manifest.json, hex). manifest.json names the
source bucket (``sourceBucket``), the columns (``fileSchema``, comma-separated) and the data files (``files``:
``key``, ``size``, ``md5Checksum``; every number a string), gzip CSV without a header row, keys URL-encoded.
Keys are form-decoded (``+`` to space, then ``%XX`` as UTF-8), which reads both percent- and form-encoded reports.
A data file is read whole (its compressed bytes), checked against its MD5, then decompressed and parsed as a
stream: memory holds one compressed file, never the report. Errors are ``InventoryError`` naming the object.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from reconciler.errors import InventoryError, NotFound
from reconciler.model import ObjectInfo
from reconciler.storage import Storage

MANIFEST = "manifest.json"
CHECKSUM = "manifest.checksum"
REQUIRED = ("Key", "ETag", "Size")
# <prefix>/<appid>/<source bucket>/<config id>/<YYYYMMDD>/manifest.json (the prefix may be empty)
_MANIFEST_PATH = re.compile(r"^(?:(?P<prefix>.*)/)?(?P<appid>[^/]+)/(?P<bucket>[^/]+)/(?P<config>[^/]+)/"
                            r"(?P<date>\d{8})/manifest\.json$")


@dataclass(frozen=True)
class ReportFile:
    """One data file of a report: its key in the report's bucket, its size and MD5 as the manifest gives them."""

    key: str
    size: int
    md5: str


@dataclass(frozen=True)
class Report:
    """A report's manifest, checked: where it is, which bucket it lists, when, and its data files."""

    bucket: str  # the bucket holding the report (its destination bucket)
    manifest_key: str
    source_bucket: str  # the bucket the report lists
    config_id: str
    date: str  # YYYYMMDD, from the report's folder
    columns: tuple[str, ...]
    files: tuple[ReportFile, ...]

    @property
    def location(self) -> str:
        return f"cos://{self.bucket}/{self.manifest_key}"

    @property
    def day(self) -> str:
        """The report's date as YYYY-MM-DD."""
        return f"{self.date[:4]}-{self.date[4:6]}-{self.date[6:]}"


def parse_location(text: str) -> tuple[str, str]:
    """``cos://<bucket>/<key>`` as (bucket, key); InventoryError for anything else."""
    if not text.startswith("cos://") or "/" not in text[6:] or text[6:].startswith("/"):
        raise InventoryError(f"--inventory {text!r}: expected cos://<bucket>/<key of manifest.json> "
                             "or cos://<bucket>/<prefix>/<appid>/<bucket>/<config-id>/")
    bucket, _, key = text[6:].partition("/")
    return bucket, key


def newest_manifest(storage: Storage, bucket: str, folder: str) -> str:
    """The key of the newest dated ``manifest.json`` directly under ``folder`` (``<folder><YYYYMMDD>/``)."""
    folder = folder if folder.endswith("/") or not folder else folder + "/"
    found = ""
    pattern = re.compile(re.escape(folder) + r"(\d{8})/manifest\.json")
    for info in storage.list_objects(bucket, folder):
        if pattern.fullmatch(info.key) and info.key > found:
            found = info.key
    if not found:
        raise InventoryError(f"cos://{bucket}/{folder}: no <YYYYMMDD>/{MANIFEST} of an inventory report there")
    return found


def read_report(storage: Storage, bucket: str, key: str) -> Report:
    """The report at ``cos://bucket/key`` (a manifest.json, or a configuration's folder: its newest manifest),
    its manifest checked against manifest.checksum and its layout. InventoryError when it cannot be used."""
    if not key.endswith("/" + MANIFEST) and key != MANIFEST:
        key = newest_manifest(storage, bucket, key)
    where = f"cos://{bucket}/{key}"
    path = _MANIFEST_PATH.match(key)
    if path is None:
        raise InventoryError(f"{where}: not in the inventory layout "
                             "<prefix>/<appid>/<bucket>/<config-id>/<YYYYMMDD>/manifest.json")
    body = _get(storage, bucket, key, where)
    checksum_key = key[: -len(MANIFEST)] + CHECKSUM
    expected = _get(storage, bucket, checksum_key, f"cos://{bucket}/{checksum_key}").decode("ascii", "replace")
    actual = hashlib.md5(body, usedforsecurity=False).hexdigest()
    if expected.strip().lower() != actual:
        raise InventoryError(f"{where}: its MD5 is {actual}, {CHECKSUM} says {expected.strip()[:64]!r} (corrupt or "
                             "rewritten report)")
    manifest = _json(body, where)
    source = _text(manifest, "sourceBucket", where)
    if source != path["bucket"]:
        raise InventoryError(f"{where}: the manifest lists bucket {source!r} but sits in the folder of bucket "
                             f"{path['bucket']!r}")
    fmt = _text(manifest, "fileFormat", where)
    if fmt.upper() != "CSV":
        raise InventoryError(f"{where}: fileFormat {fmt!r}; cosrecon reads CSV reports")
    columns = tuple(c.strip() for c in _text(manifest, "fileSchema", where).split(","))
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InventoryError(f"{where}: fileSchema {', '.join(columns)!r} lacks {', '.join(missing)} "
                             "(a plan needs Key, ETag and Size)")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise InventoryError(f"{where}: 'files' is not a list")
    return Report(bucket, key, source, path["config"], path["date"], columns,
                  tuple(_file(f, i, where) for i, f in enumerate(files)))


Fetch = Callable[[Storage, str, "ReportFile", str], bytes]  # (storage, bucket, file, where) -> the file's bytes


def report_objects(storage: Storage, report: Report, prefix: str = "", fetch: Fetch | None = None) -> Iterator[ObjectInfo]:
    """The objects the report lists under ``prefix`` (current versions only when it lists versions), in the
    report's order, keys decoded; each data file is checked against its MD5 before any of its rows is given.
    ``fetch`` gets a data file's bytes (default: a GET; ``Inventories`` keeps them on disk for the next pass)."""
    columns = report.columns
    n = len(columns)
    k_key, k_etag, k_size = (columns.index(c) for c in REQUIRED)
    k_bucket = columns.index("Bucket") if "Bucket" in columns else -1
    k_latest = columns.index("IsLatest") if "IsLatest" in columns else -1
    k_marker = columns.index("IsDeleteMarker") if "IsDeleteMarker" in columns else -1
    source = report.source_bucket
    for file in report.files:
        where = f"cos://{report.bucket}/{file.key}"
        for line, row in _rows(storage, report.bucket, file, where, fetch or fetch_file):
            if len(row) != n:
                raise InventoryError(f"{where}: line {line}: {len(row)} fields, fileSchema has {n}")
            if k_bucket >= 0 and row[k_bucket] != source:
                raise InventoryError(f"{where}: line {line}: an object of bucket {row[k_bucket][:80]!r} in the "
                                     f"report of {source!r}")
            if (k_latest >= 0 and row[k_latest].lower() == "false") or (k_marker >= 0 and row[k_marker].lower() == "true"):
                continue
            key = decode_key(row[k_key], where, line)
            if not key.startswith(prefix):
                continue
            try:
                size = int(row[k_size] or 0)
            except ValueError:
                raise InventoryError(f"{where}: line {line}: Size {row[k_size][:40]!r} is not a number") from None
            yield ObjectInfo(key, row[k_etag].strip('"'), size)


def decode_key(raw: str, where: str = "", line: int = 0) -> str:
    """A key as the report writes it, form-decoded: ``+`` is a space, then ``%XX`` bytes as UTF-8."""
    try:
        return unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        raise InventoryError(f"{where}: line {line}: key {raw[:80]!r} does not decode to UTF-8") from None


def fetch_file(storage: Storage, bucket: str, file: ReportFile, where: str) -> bytes:
    """A data file's bytes, by GET."""
    return _get(storage, bucket, file.key, where)


def _rows(storage: Storage, bucket: str, file: ReportFile, where: str,
          fetch: Fetch) -> Iterator[tuple[int, list[str]]]:
    data = fetch(storage, bucket, file, where)
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if actual != file.md5.lower():
        raise InventoryError(f"{where}: its MD5 is {actual}, the manifest says {file.md5[:64]!r} (corrupt report)")
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
            text = io.TextIOWrapper(unzipped, encoding="utf-8", newline="")
            for line, row in enumerate(csv.reader(text, strict=True), 1):
                yield line, row
    except (OSError, EOFError, zlib.error, csv.Error, UnicodeDecodeError) as exc:
        raise InventoryError(f"{where}: not a gzip CSV file ({type(exc).__name__}: {str(exc)[:120]})") from None


def _get(storage: Storage, bucket: str, key: str, where: str) -> bytes:
    try:
        return storage.get_object(bucket, key)
    except NotFound:
        raise InventoryError(f"{where}: not found (an inventory report names its files; is the report "
                             "complete?)") from None


def _json(body: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{where}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InventoryError(f"{where}: not a JSON object")
    return value


def _text(manifest: dict[str, Any], name: str, where: str) -> str:
    value = manifest.get(name)
    if not isinstance(value, str) or not value:
        raise InventoryError(f"{where}: {name!r} is missing or not a string")
    return value


def _file(item: Any, i: int, where: str) -> ReportFile:
    if not isinstance(item, dict):
        raise InventoryError(f"{where}: files[{i}] is not an object")
    key, size, md5 = item.get("key"), item.get("size"), item.get("md5Checksum")
    if not isinstance(key, str) or not key or not isinstance(md5, str) or not re.fullmatch(r"[0-9a-fA-F]{32}", md5):
        raise InventoryError(f"{where}: files[{i}] needs a key and a 32-hex md5Checksum")
    if not isinstance(size, (str, int)) or not str(size).isdigit():
        raise InventoryError(f"{where}: files[{i}].size {size!r} is not a number (a string of digits)")
    return ReportFile(key, int(size), md5)
