"""The hand-off to CI's batch jobs as state (``apply --via batch``): one record per job under the set's state folder,
``batch/<name>.json``, and its URL list beside the sources, ``<state prefix><set>/batch/<name>.urls`` in the source
bucket (a job reads its list from its own bucket).

A record is written BEFORE its job is submitted (with no job id), so a run killed between the submission and the
record of its id finds the job again by its name (``find_jobs``) and never submits twice; the list's MD5 is in
the record and checked against the object before submitting (a list edited in the bucket is refused). The record
holds what the job is expected to make — (source key, source ETag, output key) for every source — so that only
those keys are ever recorded, and only when made after the submission. Values and JSON, read and written through
the set's ``Blobs``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import quote

from reconciler.errors import StateError
from reconciler.state.blobs import Blobs

RECORDS = "batch/"  # the records' folder in the set's state blobs


@dataclass(frozen=True)
class JobRecord:
    """One batch job of one output definition (address) of one set."""

    name: str
    set: str
    address: str
    bucket: str  # the job's bucket: the set's source bucket
    region: str
    rule: str
    fingerprint: str
    out_bucket: str
    out_object: str  # the job's Output/Object, with its variables (``declare.jobvars``)
    list_key: str  # the URL list's key in ``bucket``
    list_md5: str
    expect: tuple[tuple[str, str, str], ...]  # (source key, source ETag, output key)
    job_id: str = ""
    submitted: str = ""  # the job's CreationTime as CI gave it ("" until submitted)
    state: str = ""  # the last state seen
    settled: bool = False  # its outputs were observed and recorded: nothing more to do
    notes: tuple[str, ...] = field(default=())

    def blob_name(self) -> str:
        return f"{RECORDS}{self.name}.json"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @staticmethod
    def from_json(data: bytes) -> JobRecord:
        raw = json.loads(data)
        raw["expect"] = tuple(tuple(e) for e in raw["expect"])
        raw["notes"] = tuple(raw.get("notes", ()))
        return JobRecord(**raw)

    def with_(self, **changes: object) -> JobRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


def url_list(bucket: str, region: str, keys: list[str]) -> bytes:
    """The URL file: one URL-encoded object URL a line (the trigger-job page's ``UrlFile``)."""
    host = f"https://{bucket}.cos.{region}.myqcloud.com/"
    return "".join(f"{host}{quote(k, safe='/')}\n" for k in keys).encode("ascii")


def job_name(set_name: str, address: str, list_md5: str) -> str:
    """A name CI accepts (letters, digits, ``-``, ``_``; at most 128) that is the same for the same list."""
    return "cosrecon-" + hashlib.md5(f"{set_name}\n{address}\n{list_md5}".encode()).hexdigest()


def read_records(blobs: Blobs, *, settled: bool = False) -> list[JobRecord]:
    """The job records of a set (those still to follow; with ``settled``, every one)."""
    found = []
    for name in sorted(blobs.list(RECORDS)):
        data = blobs.read(name) if name.endswith(".json") else None
        if data is None:
            continue
        try:
            record = JobRecord.from_json(data)
        except (ValueError, TypeError, KeyError) as error:
            raise StateError(f"the batch job record {blobs.where}{name} cannot be read ({error}); delete it to go "
                             f"on") from None
        if settled or not record.settled:
            found.append(record)
    return found
