"""``cosrecon jobs``' operation: the Cloud Infinite batch jobs ``apply --via batch`` submitted for the declared sets
(their records, ``apply.batchrecords``), as CI describes them now; and cancelling one of them."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.apply.batchrecords import JobRecord, read_records
from reconciler.errors import UsageError
from reconciler.model import Declaration
from reconciler.ops.compose import Connection, connect
from reconciler.storage import BatchJobs
from reconciler.storage.jobs import JobInfo


def jobs(decls: Sequence[Declaration], connection: Connection) -> list[tuple[JobRecord, JobInfo | None]]:
    """Every recorded job of ``decls``' sets with its state as CI gives it (None: CI no longer knows it; a record
    without a job id was never submitted, or its run was killed before recording it: the next apply finds it)."""
    found: list[tuple[JobRecord, JobInfo | None]] = []
    with connect(connection, decls) as backend:
        for decl in decls:
            storage = backend.storage(decl.region)
            for record in read_records(backend.ledgers.blobs(decl), settled=True):
                info = None
                if record.job_id and isinstance(storage, BatchJobs):
                    info = storage.describe_job(record.bucket, record.job_id)
                found.append((record, info))
    return found


def cancel(decls: Sequence[Declaration], connection: Connection, job_id: str) -> JobRecord:
    """Cancel the job ``job_id`` recorded for one of ``decls``' sets (only a job cosrecon recorded)."""
    with connect(connection, decls) as backend:
        for decl in decls:
            storage = backend.storage(decl.region)
            for record in read_records(backend.ledgers.blobs(decl), settled=True):
                if record.job_id == job_id and isinstance(storage, BatchJobs):
                    storage.cancel_job(record.bucket, job_id)
                    return record
    raise UsageError(f"no set declared here recorded batch job {job_id}")
