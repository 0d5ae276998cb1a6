"""The inventory reports of one run (``--inventory``, one per bucket), and a ``Storage`` that lists the buckets
they cover from them instead of sending LIST requests.

``Inventories.open`` reads and checks each report's manifest (``observe.inventory``) before anything is listed,
and refuses a report of a bucket no set reads or two reports of one bucket. ``ReportStorage`` wraps the storage a
plan observes through: ``list_objects`` of a covered bucket streams the report's files and gives the objects under
the prefix in COS's order (byte-wise by key), so a listing's consumer cannot tell the two apart; every other call
(HEAD, GET, the ledger store's own reads) goes to the wrapped storage. A bucket without a report is listed as
always. Only planning is given the wrapper: apply, the ledger store and locks never read a report.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from reconciler.errors import InventoryError
from reconciler.model import ObjectInfo
from reconciler.observe.inventory import Report, ReportFile, fetch_file, parse_location, read_report, report_objects
from reconciler.storage import ImageStyles, ProcessResult, Storage


class Inventories:
    """Reports by the bucket they list, each with the storage that reads it (the report's bucket is in the same
    region as the bucket it lists, as COS requires)."""

    def __init__(self, reports: Iterable[tuple[Report, Storage]] = ()) -> None:
        self.reports: dict[str, tuple[Report, Storage]] = {}
        self._files = _FileCache()
        for report, storage in reports:
            if report.source_bucket in self.reports:
                other = self.reports[report.source_bucket][0]
                raise InventoryError(f"two inventory reports of bucket {report.source_bucket!r}: {other.location} "
                                     f"and {report.location}")
            self.reports[report.source_bucket] = (report, storage)

    def __bool__(self) -> bool:
        return bool(self.reports)

    @classmethod
    def open(cls, locations: Sequence[str], storage_for: Callable[[str], Storage], regions: Sequence[str],
             buckets: Iterable[str]) -> Inventories:
        """Read each ``--inventory`` location with the storage of the sets' regions (the first that has it);
        InventoryError when one cannot be read or lists a bucket not in ``buckets`` (those the sets read)."""
        wanted = set(buckets)
        found: list[tuple[Report, Storage]] = []
        for text in locations:
            bucket, key = parse_location(text)
            report, storage = _read_in(storage_for, regions, bucket, key)
            if report.source_bucket not in wanted:
                raise InventoryError(f"{report.location}: a report of bucket {report.source_bucket!r}, which no set "
                                     f"given reads (they read {', '.join(sorted(wanted)) or 'nothing'})")
            found.append((report, storage))
        return cls(found)

    def covers(self, bucket: str) -> bool:
        return bucket in self.reports

    def report(self, bucket: str) -> Report:
        return self.reports[bucket][0]

    def objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """The report's objects of ``bucket`` under ``prefix``, in the report's order."""
        report, storage = self.reports[bucket]
        return report_objects(storage, report, prefix, self._files.fetch)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """HEAD ``key`` of the covered ``bucket`` now, through the storage of its report's region."""
        return self.reports[bucket][1].head_object(bucket, key)

    def notes(self) -> list[str]:
        """One line per report: which bucket it lists, and its date (the plan is as of that day for that bucket)."""
        return [f"Bucket {b} is read from its inventory report of {r.day} (configuration {r.config_id}, "
                f"{r.location}); changes since are checked again before apply touches a key."
                for b, (r, _) in sorted(self.reports.items())]

    def storage(self, inner: Storage) -> Storage:
        """``inner`` with the covered buckets listed from their reports."""
        return ReportStorage(inner, self) if self.reports else inner


class _FileCache:
    """Data files kept on disk once fetched (a temporary folder, removed when the run ends), so the listings of
    several prefixes of one bucket GET each file once; memory holds one file at a time."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._files: dict[tuple[str, str], tuple[threading.Lock, Path]] = {}
        self._kept: set[Path] = set()

    def fetch(self, storage: Storage, bucket: str, file: ReportFile, where: str) -> bytes:
        with self._lock:
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix="cosrecon-inventory-")
            if (bucket, file.key) not in self._files:
                path = Path(self._folder.name) / f"{len(self._files)}.csv.gz"
                self._files[(bucket, file.key)] = (threading.Lock(), path)
            lock, path = self._files[(bucket, file.key)]
        with lock:  # one GET per file, whichever listing asks first
            if path in self._kept:
                return path.read_bytes()
            data = fetch_file(storage, bucket, file, where)
            path.write_bytes(data)
            self._kept.add(path)
            return data


def _read_in(storage_for: Callable[[str], Storage], regions: Sequence[str], bucket: str,
             key: str) -> tuple[Report, Storage]:
    failure: InventoryError | None = None
    for region in dict.fromkeys(regions):
        storage = storage_for(region)
        try:
            return read_report(storage, bucket, key), storage
        except InventoryError as exc:
            failure = failure or exc
    raise failure or InventoryError(f"cos://{bucket}/{key}: no set to read it for")


class ReportStorage:
    """A ``Storage`` whose ``list_objects`` of a covered bucket comes from its inventory report (no request to
    that bucket); everything else is the wrapped storage's."""

    def __init__(self, inner: Storage, inventories: Inventories) -> None:
        self.inner, self.inventories = inner, inventories

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        if not self.inventories.covers(bucket):
            return self.inner.list_objects(bucket, prefix, start_after=start_after)
        return self._listed(bucket, prefix, start_after)

    def _listed(self, bucket: str, prefix: str, start_after: str) -> Iterator[ObjectInfo]:
        # COS lists in key order; a report need not. What is under the prefix is held (as a listing's consumer
        # holds it anyway) and sorted: code-point order of str is the byte order of UTF-8.
        found = [o for o in self.inventories.objects(bucket, prefix) if o.key > start_after]
        found.sort(key=lambda o: o.key)
        return iter(found)

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        return self.inner.head_object(bucket, key)

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.inner.get_object(bucket, key)

    def put_object(self, bucket: str, key: str, body: bytes, *, forbid_overwrite: bool = False,
                   content_type: str = "application/octet-stream") -> str:
        return self.inner.put_object(bucket, key, body, forbid_overwrite=forbid_overwrite, content_type=content_type)

    def delete_object(self, bucket: str, key: str) -> None:
        self.inner.delete_object(bucket, key)

    def delete_objects(self, bucket: str, keys: Iterable[str]) -> None:
        self.inner.delete_objects(bucket, keys)

    def process(self, bucket: str, key: str, pic_operations: str) -> ProcessResult:
        return self.inner.process(bucket, key, pic_operations)

    def put_processed(self, bucket: str, key: str, body: bytes, pic_operations: str, *,
                      content_type: str = "application/octet-stream") -> ProcessResult:
        return self.inner.put_processed(bucket, key, body, pic_operations, content_type=content_type)

    def upload_file(self, bucket: str, key: str, path: Path, part_mb: int) -> str:
        return self.inner.upload_file(bucket, key, path, part_mb)

    def process_download(self, bucket: str, key: str, rule: str) -> bytes:
        return self.inner.process_download(bucket, key, rule)

    def image_styles(self, bucket: str) -> dict[str, str]:
        """The wrapped storage's image styles (none when it cannot read them)."""
        return self.inner.image_styles(bucket) if isinstance(self.inner, ImageStyles) else {}
