"""The local server's Cloud Infinite batch processing jobs, as values: one ``Job`` per ``POST /inventorytriggerjob``,
kept in memory (a server restart forgets them, as it forgets nothing else: documented in docs/local-server.md).
The routes and the runner are ``batchjobs``; this module holds no threads of its own and makes no request."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

FINAL = ("Success", "Failed", "Cancel")


@dataclass
class Job:
    """One batch job: its request as parsed, and its progress (mutated only under ``Jobs.lock``)."""

    id: str
    name: str
    bucket: str
    region: str
    queue: str
    rule: str
    url_file: str
    out_region: str
    out_bucket: str
    out_object: str
    created: float = field(default_factory=time.time)
    state: str = "Submitted"
    started: float = 0.0
    ended: float = 0.0
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    message: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def final(self) -> bool:
        return self.state in FINAL


class Jobs:
    """Every job of one server, by id, in creation order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def add(self, job: Job) -> Job:
        with self.lock:
            self._jobs[job.id] = job
        return job

    def get(self, bucket: str, job_id: str) -> Job | None:
        with self.lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.bucket == bucket else None

    def of_bucket(self, bucket: str) -> Iterator[Job]:
        with self.lock:
            jobs = [j for j in self._jobs.values() if j.bucket == bucket]
        return iter(jobs)


def new_job_id() -> str:
    """An id shaped as CI's (a letter and 32 hex digits)."""
    return "b" + uuid.uuid4().hex
