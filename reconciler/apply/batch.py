"""``apply --via batch --queue QUEUE_ID``: the plan's calls handed to Cloud Infinite's batch processing jobs instead
of being made one by one (docs/backfill.md).

One job per output definition (address) of a set: its URL list (the sources whose call makes that output), its rule,
its Output/Object — the fileid template in the job's variables, refused before any request when it cannot be said
that way or renders another key for one of the sources (``declare.jobvars``). A run with no job in flight submits
(records first, ``batchrecords``); a run that finds jobs polls them (``--wait``: until they end), and once a job
has ended observes its expected outputs by HEAD and records only those made after its submission. Per-object
results are never believed: a cancelled or failed job simply leaves the outputs it did not make to the next plan.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime

from reconciler.apply.batchrecords import RECORDS, JobRecord, job_name, read_records, url_list
from reconciler.apply.bookkeeping import SetRun
from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike
from reconciler.apply.engine import Engine
from reconciler.apply.stopping import WorkRemains
from reconciler.declare.jobvars import NotExpressible, job_object_template, render_job_object
from reconciler.errors import StateError, StorageError, UsageError
from reconciler.model import ActionKind, Declaration, LedgerEntry, Plan
from reconciler.state.ledger import JournalRecord
from reconciler.state.locks import HeldLock
from reconciler.storage import BatchJobs, Storage
from reconciler.storage.jobs import JobInfo, JobRequest


@dataclass(frozen=True)
class _Output:
    """An expected output of a job, as the tally's rows name it."""

    address: str
    bucket: str
    key: str


@dataclass(frozen=True)
class BatchSettings:
    queue: str
    wait: bool = False
    poll_interval: float = 5.0  # the longest pause between polls (they start at 0.05 s and double)
    sleep: Callable[[float], None] = time.sleep


def _fileids(decl: Declaration) -> dict[str, str]:
    return {decl.address(p, o): o.fileid for p in decl.pipelines for o in p.outputs}


def _stamp(text: str) -> float | None:
    """Seconds since the epoch of CI's ``2022-07-18T15:16:43+0800`` or an HTTP date; None when unreadable."""
    for parse in (lambda t: datetime.strptime(t, "%Y-%m-%dT%H:%M:%S%z"), parsedate_to_datetime):
        try:
            return parse(text).timestamp()
        except (ValueError, TypeError):
            continue
    return None


class BatchEngine(Engine):
    """One ``--via batch`` run over the sets of a plan (the caller holds the locks)."""

    def __init__(self, plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                 locks: Mapping[str, HeldLock], settings: BatchSettings) -> None:
        super().__init__(plan, decls, backend, options, locks)
        self.settings = settings
        self.running: list[JobRecord] = []
        self.submitted: list[JobRecord] = []

    def run(self) -> ApplyReport:
        started = time.monotonic()
        self._open()
        try:
            records = {run.decl.name: self._records(run) for run in self.runs}
            if not any(records.values()):
                for run in self.runs:
                    records[run.decl.name] = self._submit(run, self._jobs_of(run))
            pause = 0.05
            while True:
                self.running = []
                for run in self.runs:
                    records[run.decl.name] = [self._advance(run, r) for r in records[run.decl.name]]
                if not self.running or not self.settings.wait:
                    break
                self.check_locks(0.0)  # the leases are renewed by the lock holder's thread meanwhile
                self.settings.sleep(pause)
                pause = min(pause * 2, self.settings.poll_interval)
        except BaseException:
            self._keep_journals()
            raise
        report = self._report(started, self._close())
        if self.running:
            ids = ", ".join(r.job_id or r.name for r in self.running)
            raise WorkRemains(f"{len(self.running)} batch job(s) still running ({ids}); run apply again (or with "
                              f"--wait) to collect their outputs", report)
        return report

    # --- what to hand over -------------------------------------------------------------------------

    def _jobs_of(self, run: SetRun) -> list[JobRecord]:
        """The job records of ``run``'s calls, one per output address; refuses (before any request) a template the
        job's variables cannot express, a state kept outside the source bucket, a storage without jobs."""
        decl = run.decl
        if self.backend.ledgers.state_dir is not None or decl.state.bucket != decl.bucket:
            raise UsageError(f"set {decl.name!r}: --via batch writes its URL list under the state prefix in the "
                             f"source bucket {decl.bucket}; this set keeps its state elsewhere")
        fileids = _fileids(decl)
        groups: dict[str, list[tuple[str, str, str]]] = {}
        ops: dict[str, tuple[str, str, str]] = {}
        for call in run.plan.calls:
            if not self._may_write(run, call):
                continue
            for op in call.rules:
                groups.setdefault(op.address, []).append((call.key, call.source_etag, op.key))
                ops[op.address] = (op.rule, op.fingerprint, op.bucket)
        records = []
        for address, expect in groups.items():
            try:
                template = job_object_template(fileids[address])
            except NotExpressible as error:
                raise UsageError(f"set {decl.name!r}, output {address}: {error}; apply it without --via batch") from None
            wrong = next(((s, k) for s, _, k in expect if render_job_object(template, s) != k), None)
            if wrong is not None:
                raise UsageError(f"set {decl.name!r}, output {address}: a batch job would write "
                                 f"{render_job_object(template, wrong[0])!r} for {wrong[0]!r}, not {wrong[1]!r} "
                                 f"(its Output/Object {template!r}); apply it without --via batch")
            body = url_list(decl.bucket, decl.region, [s for s, _, _ in expect])
            md5 = hashlib.md5(body).hexdigest()
            name = job_name(decl.name, address, md5)
            rule, fingerprint, out_bucket = ops[address]
            records.append((body, JobRecord(name, decl.name, address, decl.bucket, decl.region, rule, fingerprint,
                                            out_bucket, template, f"{decl.state.prefix}{decl.name}/{RECORDS}{name}.urls",
                                            md5, tuple(expect))))
        for body, record in records:
            self._retry(lambda: self._storage(run).put_object(decl.bucket, record.list_key, body,
                                                               content_type="text/plain"))
        return [record for _, record in records]

    def _storage(self, run: SetRun) -> Storage:
        return self.backend.storage(run.decl.region)

    def _jobs(self, run: SetRun) -> BatchJobs:
        storage = self._storage(run)
        if not isinstance(storage, BatchJobs):
            raise UsageError("this storage cannot submit Cloud Infinite batch jobs")
        return storage

    def _submit(self, run: SetRun, records: list[JobRecord]) -> list[JobRecord]:
        blobs = self.backend.ledgers.blobs(run.decl)
        for record in records:  # recorded before any submission: a run killed meanwhile finds them
            self._retry(lambda: blobs.write(record.blob_name(), record.to_json()))
        return records

    def _records(self, run: SetRun) -> list[JobRecord]:
        blobs = self.backend.ledgers.blobs(run.decl)
        return self._retry(lambda: read_records(blobs))

    # --- following a job ---------------------------------------------------------------------------

    def _advance(self, run: SetRun, record: JobRecord) -> JobRecord:
        """One step of a job's life: submit it (once), poll it, or collect its outputs once it has ended."""
        if record.settled:
            return record
        jobs, blobs = self._jobs(run), self.backend.ledgers.blobs(run.decl)
        if not record.job_id:
            known = self._retry(lambda: jobs.find_jobs(record.bucket, record.name))
            if known:  # submitted by a run that was killed before it recorded the id
                info = known[0]
            else:
                self._check_list(run, record)
                request = JobRequest(record.name, self.settings.queue, record.list_key, record.rule, record.region,
                                     record.out_bucket, record.out_object)
                info = self._submit_once(jobs, record, request)
                self.submitted.append(record)
            record = record.with_(job_id=info.id, submitted=info.created, state=info.state)
            self._retry(lambda: blobs.write(record.blob_name(), record.to_json()))
        found = self._retry(lambda: jobs.describe_job(record.bucket, record.job_id))
        state = found.state if found is not None else "Unknown"
        if found is not None and not found.final:
            self.running.append(record.with_(state=state))
            return record.with_(state=state)
        record = self._collect(run, record.with_(state=state))
        self._retry(lambda: blobs.write(record.blob_name(), record.to_json()))
        return record

    def _submit_once(self, jobs: BatchJobs, record: JobRecord, request: JobRequest) -> JobInfo:
        """Submit, never twice: after a failure that may have reached CI (a timeout, a 5xx), the job is looked
        for by its name before it is submitted again."""
        for attempt in range(1, self.options.retry.attempts + 1):
            try:
                return jobs.submit_job(record.bucket, request)
            except StorageError as error:
                if not error.retryable or attempt == self.options.retry.attempts:
                    raise
            time.sleep(self.options.retry.delay(attempt))
            known = self._retry(lambda: jobs.find_jobs(record.bucket, record.name))
            if known:
                return known[0]
        raise AssertionError("unreachable")

    def _check_list(self, run: SetRun, record: JobRecord) -> None:
        body = self._retry(lambda: self._storage(run).get_object(record.bucket, record.list_key))
        if hashlib.md5(body).hexdigest() != record.list_md5:
            raise StateError(f"set {run.decl.name!r}: the URL list {record.bucket}/{record.list_key} changed since it "
                             f"was written (MD5 {record.list_md5} recorded); nothing was submitted. Delete "
                             f"{record.blob_name()} from the set's state to plan it again")

    def _collect(self, run: SetRun, record: JobRecord) -> JobRecord:
        """Record the expected outputs standing since the job's submission; report the others as not made."""
        storage, since = self._storage(run), _stamp(record.submitted)
        records: list[JournalRecord] = []
        for source, etag, key in record.expect:
            head = self._retry(lambda: storage.head_object(record.out_bucket, key))
            made = _stamp(head.last_modified) if head is not None else None
            if head is None or since is None or made is None or made < since:  # both in whole seconds
                why = f"batch job {record.job_id} ended {record.state}; the output is not there (or older)"
                self.tally.fail(run, _Output(record.address, record.out_bucket, key), source, None, why)
                continue
            entry = LedgerEntry(record.out_bucket, key, record.address, source, etag, record.fingerprint, head.etag,
                                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(made)))
            records.append(JournalRecord.put(entry))
            self.tally.made(ActionKind.CREATE if (record.out_bucket, key) not in run.entries else ActionKind.REPLACE)
        run.record(records)
        return record.with_(settled=True)


def batch_executor(settings: BatchSettings) -> Callable[[Plan, Sequence[Declaration], BackendLike, ApplyOptions,
                                                         Mapping[str, HeldLock]], ApplyReport]:
    """The ``RunSettings.engine`` of ``apply --via batch``."""
    def execute(plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                locks: Mapping[str, HeldLock]) -> ApplyReport:
        return BatchEngine(plan, decls, backend, options, locks, settings).run()

    return execute

