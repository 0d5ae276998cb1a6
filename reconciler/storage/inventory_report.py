"""Writing a COS Inventory report of a bucket now, through a ``Storage``, in the documented layout — what the cloud
writes daily or weekly (``cosrecon local inventory`` asks for one on the local server; tests make their worlds'
reports with it).

Layout (COS inventory overview; PUT Bucket inventory, 436/30625): ``<prefix>/<appid>/<bucket>/<config-id>/
<YYYYMMDD>/manifest.json`` + ``manifest.checksum`` (MD5 of manifest.json); data files gzip CSV without a header
row under ``<prefix>/<appid>/<bucket>/<config-id>/data/``, columns in ``fileSchema`` order, every number in the
manifest a string. Where the pages are silent it follows S3's inventory, as the sample report does: ETag without
quotes, keys percent-encoded with ``/`` kept. The bucket is listed as a stream and each data file holds at most
``rows_per_file`` rows, so memory holds one file's rows, never the bucket.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from reconciler.model import ObjectInfo
from reconciler.storage import Storage

SCHEMA = ("Appid", "Bucket", "Key", "Size", "LastModifiedDate", "ETag", "StorageClass", "IsMultipartUploaded",
          "ReplicationStatus")
ROWS_PER_FILE = 100_000


@dataclass(frozen=True)
class Written:
    """A report just written: its manifest's key and how many objects it lists."""

    manifest_key: str
    objects: int
    files: int


def appid_of(bucket: str) -> str:
    """The APPID a COS bucket name ends with (``<name>-<appid>``); "0" for a name without one (local buckets)."""
    found = re.search(r"-(\d+)$", bucket)
    return found.group(1) if found else "0"


def report_folder(prefix: str, bucket: str, config_id: str) -> str:
    """``<prefix>/<appid>/<bucket>/<config-id>/`` (without the prefix part when it is empty)."""
    head = prefix.strip("/")
    return (head + "/" if head else "") + f"{appid_of(bucket)}/{bucket}/{config_id}/"


def write_report(storage: Storage, bucket: str, destination: str, prefix: str, config_id: str, *,
                 now: datetime | None = None, rows_per_file: int = ROWS_PER_FILE) -> Written:
    """List ``bucket`` and write its report to ``destination`` under ``prefix``; returns where the manifest is."""
    now = now or datetime.now(timezone.utc)
    folder = report_folder(prefix, bucket, config_id)
    stamp = now.strftime("%Y%m%d")
    files: list[dict[str, str]] = []
    count = total = 0
    for number, rows in enumerate(_chunks(storage.list_objects(bucket), rows_per_file)):
        body = _csv_gz(appid_of(bucket), bucket, rows)
        key = f"{folder}data/{now.strftime('%Y%m%dT%H%M%S')}-part-{number:05d}.csv.gz"
        storage.put_object(destination, key, body, content_type="application/gzip")
        files.append({"key": key, "size": str(len(body)),
                      "md5Checksum": hashlib.md5(body, usedforsecurity=False).hexdigest()})
        count += len(rows)
        total += sum(o.size for o in rows)
    manifest = {
        "sourceAppid": appid_of(bucket), "sourceBucket": bucket,
        "destinationAppid": appid_of(destination), "destinationBucket": destination,
        "fileFormat": "CSV", "listObjectCount": str(count), "listStorageSize": str(total),
        "filterObjectCount": str(count), "filterStorageSize": str(total),
        "fileSchema": ", ".join(SCHEMA), "files": files,
    }
    body = json.dumps(manifest, indent=2).encode()
    manifest_key = f"{folder}{stamp}/manifest.json"
    storage.put_object(destination, manifest_key, body, content_type="application/json")
    storage.put_object(destination, f"{folder}{stamp}/manifest.checksum",
                       hashlib.md5(body, usedforsecurity=False).hexdigest().encode(), content_type="text/plain")
    return Written(manifest_key, count, len(files))


def encode_key(key: str) -> str:
    """A key as the report writes it: percent-encoded UTF-8, ``/`` kept (a space is %20, ``+`` is %2B)."""
    return quote(key, safe="/")


def _chunks(objects: Iterator[ObjectInfo], size: int) -> Iterator[list[ObjectInfo]]:
    chunk: list[ObjectInfo] = []
    for info in objects:
        chunk.append(info)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _csv_gz(appid: str, bucket: str, rows: list[ObjectInfo]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for o in rows:
        writer.writerow((appid, bucket, encode_key(o.key), str(o.size), o.last_modified, o.etag, "STANDARD",
                         "true" if "-" in o.etag else "false", ""))
    return gzip.compress(text.getvalue().encode("utf-8"), mtime=0)
