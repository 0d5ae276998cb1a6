"""The upload executor of ``cosrecon upload``: each file PUT with the Pic-Operations of its first outputs
(processing upon upload), follow-up image_process calls for the rest, every output recorded in its set's ledger.

An ``Engine`` (so the same locks, journaled intents, pacing, retries, dead-endpoint watch, evidence and
compaction as apply) whose unit of work is one source key instead of one call: the plan's calls on that key, of
every set, are packed across sets (``packing``) into requests of at most five rules. The first request is the PUT
of the file when it is uploaded here, else an image_process call like the others. Files no set selects are PUT
plainly (``IngestJob.groups`` empty). A failed request fails its outputs and every later request of the key (the
source may not stand); the journaled intents let the next run recognise what a killed or failed request made.
"""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply.bookkeeping import SetRun
from reconciler.apply.contract import ApplyOptions, BackendLike
from reconciler.apply.engine import Engine, pic_operations
from reconciler.apply.packing import merged, pack
from reconciler.errors import StorageError
from reconciler.model import Call, Declaration, Plan
from reconciler.state.locks import HeldLock
from reconciler.storage import Storage, upload_etag
from reconciler.storage.localfiles import read_regular

Piece = tuple[SetRun, Call]

# Processing input is at most 32 MB (cos-notes, "Size limits"): a larger file is uploaded without Pic-Operations, in
# parts of PART_MB (the SDK's multipart upload_file), and its outputs are asked for with image_process, as apply
# would (CI may refuse them as too large: the report says so).
PROCESSING_LIMIT = 32 * 1024 * 1024
PART_MB = 16


@dataclass(frozen=True)
class LocalFile:
    """A file to upload and the key it goes to, with the ETag its upload will give it and its size."""

    path: Path
    key: str
    etag: str  # its MD5 (a simple PUT), or the ETag of its upload in parts of ``part_mb``
    size: int
    part_mb: int | None = None  # over PROCESSING_LIMIT: uploaded with ``Storage.upload_file`` in parts of this size

    @classmethod
    def of(cls, path: Path, key: str) -> LocalFile:
        """``path`` as uploaded to ``key``: its size decides how (``PROCESSING_LIMIT``), which decides its ETag."""
        size = path.stat().st_size
        part_mb = PART_MB if size > PROCESSING_LIMIT else None
        return cls(path, key, upload_etag(path, part_mb), size, part_mb)

    @property
    def multipart(self) -> bool:
        return self.part_mb is not None

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.path.name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class IngestJob:
    """One source key: the file to PUT (None: it stands already) and its requests, each a list of pieces."""

    key: str
    upload: LocalFile | None
    groups: tuple[tuple[Piece, ...], ...]


@dataclass
class UploadCounts:
    """What the upload requests did (the report's calls count image_process calls and PUTs with processing)."""

    puts: int = 0  # PUTs with Pic-Operations
    plain: int = 0  # PUTs without (no set selects the key, or no output is due)
    failures: list[str] = field(default_factory=list)  # files whose PUT failed: "key: why"
    removed: list[str] = field(default_factory=list)  # sources deleted again: their processing PUT failed


class IngestEngine(Engine):
    """``Engine`` over upload jobs. ``uploads``: key -> file, for the keys this run PUTs."""

    VERB = "upload"

    def __init__(self, plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                 locks: Mapping[str, HeldLock], uploads: Mapping[str, LocalFile], bucket: str, region: str, *,
                 new_keys: Collection[str] = (), keep_unprocessed: bool = False) -> None:
        super().__init__(plan, decls, backend, options, locks)
        self.uploads, self.bucket, self.region = uploads, bucket, region
        self.new_keys, self.keep_unprocessed = new_keys, keep_unprocessed  # keys absent before this run
        self.counts = UploadCounts()
        self._counts_lock = threading.Lock()

    def jobs(self) -> list[IngestJob]:
        """A job per key with planned calls (the runs' calls packed across sets) or with a file to upload."""
        by_key: dict[str, list[Piece]] = {}
        for run in self.runs:
            for call in run.plan.calls:
                if self._may_write(run, call):
                    by_key.setdefault(call.key, []).append((run, call))
        uploads = {k: f for k, f in self.uploads.items() if self._may_upload(k)}
        for key in set(self.uploads) - set(uploads):  # its file is not uploaded: nothing to make its outputs from
            for run, call in by_key.pop(key, []):
                self.tally.skip_all(run, call.rules, key, "not made: its source was not uploaded")
        keys = sorted(set(by_key) | set(uploads))
        return [IngestJob(k, uploads.get(k), tuple(tuple(g) for g in pack(by_key.get(k, [])))) for k in keys]

    def _may_upload(self, key: str) -> bool:
        """A file is never PUT over a set's recorded output or into a state prefix (``guard``); being some set's
        source is what an upload is for (other content there is refused before, unless --overwrite)."""
        why = next((f"an output of set {run.decl.name!r} (its ledger records it)" for run in self.runs
                    if (self.bucket, key) in run.entries), None)
        for run in self.runs:
            reason = self.guard.protected(run.decl.name, self.bucket, key, writing=True)
            if why is None and reason is not None and not reason.startswith("a source of"):
                why = reason
        if why is not None:
            self.counts.failures.append(f"{key}: not uploaded: {self.bucket}/{key} is {why}; never overwritten")
        return why is None

    def _calls(self) -> None:
        self.dispatch(self.jobs(), lambda part: self._write_intents([piece for job in part for group in job.groups
                                                                    for piece in group]), self._job, "upload")

    def _job(self, job: IngestJob) -> None:
        storage = self.backend.storage(self.region)
        upload = job.upload
        processing_put = upload is not None and bool(job.groups) and not upload.multipart
        if upload is not None and not processing_put:
            if not self._request(lambda: self._put_plain(storage, upload), job, 0, limited=False, put=True):
                return
        for number, group in enumerate(job.groups):
            call = merged(group)
            if number == 0 and processing_put and upload is not None:
                ok = self._request(lambda: self._put_processed(storage, upload, call), job, number, limited=True,
                                   put=True)
                if not ok:
                    self._unprocessed(storage, upload)
            else:
                ok = self._request(lambda: storage.process(call.bucket, call.key, pic_operations(call)), job,
                                   number, limited=True)
            if not ok:
                return
            assert self.verifier is not None
            for run, piece in group:
                self.verifier.add(run, piece)  # outputs' ETags learnt as listing shows them

    def _unprocessed(self, storage: Storage, upload: LocalFile) -> None:
        """Its PUT with processing failed, yet the source may stand (COS stores it before processing): unless
        ``keep_unprocessed``, delete it again when this run put it there -- the key was absent before the run and
        holds this file's content now."""
        if self.keep_unprocessed or upload.key not in self.new_keys:
            return
        try:
            head = storage.head_object(self.bucket, upload.key)
            if head is None or head.etag != upload.etag:
                return
            storage.delete_object(self.bucket, upload.key)
        except StorageError as error:
            note = f"{upload.key}: its processing failed and it could not be deleted again ({error}): it stands"
            with self._counts_lock:
                self.counts.failures.append(note)
            return
        with self._counts_lock:
            self.counts.removed.append(upload.key)

    def _put_plain(self, storage: Storage, upload: LocalFile) -> None:
        if upload.multipart:
            storage.upload_file(self.bucket, upload.key, upload.path, upload.part_mb or PART_MB)
        else:
            storage.put_object(self.bucket, upload.key, _read(upload), content_type=upload.content_type)
        with self._counts_lock:
            self.counts.plain += 1

    def _put_processed(self, storage: Storage, upload: LocalFile, call: Call) -> None:
        storage.put_processed(self.bucket, upload.key, _read(upload), pic_operations(call),
                              content_type=upload.content_type)
        with self._counts_lock:
            self.counts.puts += 1

    def _request(self, send: Callable[[], object], job: IngestJob, number: int, *, limited: bool,
                 put: bool = False) -> bool:
        """``send`` (``put``: the file's PUT) retried as apply retries, paced when it processes; on failure the
        outputs of request ``number`` and of every later one are reported failed. Whether it succeeded."""
        tally = self.tally
        try:
            self.attempt(send, self.bucket, job.key, limiter=self.limiter if limited else None, counted=True)
        except StorageError as error:
            if put:
                with self._counts_lock:
                    self.counts.failures.append(f"{job.key}: {error}")
            rest = [piece for group in job.groups[number:] for piece in group]
            for run, piece in rest:
                for op in piece.rules:
                    tally.fail(run, op, piece.key, error)
            tally.advance(failed=sum(piece.size for _, piece in rest))
            return False
        if limited:
            tally.count(calls=1)
            tally.advance(calls=1)
        return True


def _read(upload: LocalFile) -> bytes:
    try:
        return read_regular(upload.path)  # still a regular file, not a link swapped in since the scan
    except OSError as error:
        raise StorageError(f"cannot read {upload.path}: {error.strerror or error}", key=upload.key,
                           code="LocalFileUnreadable") from None
