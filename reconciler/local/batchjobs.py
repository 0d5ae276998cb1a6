"""Cloud Infinite's batch processing jobs on the local server, on the CI host (``<bucket>.ci.<region>.myqcloud.com``):
create (``POST /inventorytriggerjob``), describe (``GET /inventorytriggerjob/<id>``), list (``GET
/inventorytriggerjob``) and cancel (``PUT /inventorytriggerjob/<id>?cancel``), as the trigger-job page
(https://www.tencentcloud.com/document/product/1045/50369) and the query/list/cancel pages beside it describe them.

Only what cosrecon's hand-off sends is emulated — ``Type`` Job, ``Tag`` PicProcess, ``Input/UrlFile`` (one object
URL a line), ``Operation/JobParam/PicProcess/ProcessRule`` (436/84993's PicProcess container), ``Operation/QueueId``,
``Operation/Output`` {Region, Bucket, Object with the job variables of ``declare.jobvars``}; anything else is 501.
A job runs on a thread of its own: each URL's object is processed as image_process would (the same rendering,
the same CI rate limit — the job waits for it rather than failing — and the same injected faults, a fault failing
that object only). The job ends Success when every object was processed, Failed when one was not, Cancel when
cancelled (objects already written stay). Per-object results are not reported (CI documents none).
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote, urlsplit

from reconciler.declare.jobvars import render_job_object
from reconciler.local import footprint, imaging, processing, replies, styles
from reconciler.local.connection import read_bounded
from reconciler.local.context import ServerState
from reconciler.local.jobstore import Job, new_job_id
from reconciler.local.protocol import CosError, Request, Response
from reconciler.local.ruleparse import RuleError

LIST_PARAMS = frozenset({"type", "orderByTime", "states", "size", "nextToken", "workflowId", "jobId", "name",
                         "startCreationTime", "endCreationTime"})  # what the SDK's list call sends (name filters)
MAX_JOB_BODY = 64 * 1024
MAX_URL_FILE = 256 * 1024 * 1024
CI = {"Server": "tencent-ci", "Content-Type": "application/xml"}


def _field(root: ET.Element, path: str, required: bool = True) -> str:
    value = (root.findtext(path) or "").strip()
    if required and not value:
        raise CosError("InvalidArgument", f"{path} is required", ci=True)
    return value


def _parse(req: Request) -> Job:
    assert req.bucket is not None
    body = read_bounded(req.body, MAX_JOB_BODY, "POST /inventorytriggerjob")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CosError("MalformedXML", "The XML you provided was not well-formed.", ci=True) from None
    if _field(root, "Type") != "Job" or _field(root, "Operation/Tag") != "PicProcess":
        raise CosError("NotImplemented", "the local server runs batch jobs of Type Job with Tag PicProcess only",
                       ci=True)
    for name in ("Input/Manifest", "Input/Prefix", "Input/Object", "Operation/TemplateId", "Operation/WorkflowIds"):
        if root.find(name) is not None:
            raise CosError("NotImplemented", f"{name} is not implemented by the local server (UrlFile only)", ci=True)
    return Job(new_job_id(), _field(root, "Name"), req.bucket, req.region, _field(root, "Operation/QueueId"),
               _field(root, "Operation/JobParam/PicProcess/ProcessRule"), _field(root, "Input/UrlFile"),
               _field(root, "Operation/Output/Region"), _field(root, "Operation/Output/Bucket"),
               _field(root, "Operation/Output/Object"))


def create(state: ServerState, req: Request) -> Response:
    job = _parse(req)
    if not state.store.bucket_exists(job.out_bucket):
        raise CosError("NoSuchBucket", f"The output bucket {job.out_bucket!r} does not exist.")
    state.jobs.add(job)
    threading.Thread(target=_run, args=(state, job), name=f"ci-job-{job.id[:8]}", daemon=True).start()
    return Response(200, CI, _reply([job]))


def describe(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    job = state.jobs.get(req.bucket, req.key.split("/", 1)[1])
    if job is None:
        raise CosError("ResourceNotFound", "The job does not exist.", ci=True)
    return Response(200, CI, _reply([job]))


def list_jobs(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    name = req.params.get("name", "")
    wanted = [j for j in state.jobs.of_bucket(req.bucket) if not name or j.name == name]
    return Response(200, CI, _reply(wanted))


def cancel(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    job = state.jobs.get(req.bucket, req.key.split("/", 1)[1])
    if job is None:
        raise CosError("ResourceNotFound", "The job does not exist.", ci=True)
    job.cancelled.set()
    with state.jobs.lock:
        if not job.final:
            job.state, job.ended = "Cancel", time.time()
    return Response(200, CI, b"")


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(seconds)) if seconds else ""


def _reply(jobs: list[Job]) -> bytes:
    el = replies.el
    out = [replies.XML_HEAD, "<Response>"]
    for j in jobs:
        out += ["<JobsDetail>", el("Code", "Success" if j.state != "Failed" else "Failed"), el("Message", j.message),
                el("JobId", j.id), el("Name", j.name), el("Type", "Job"), el("State", j.state),
                el("CreationTime", _stamp(j.created)), el("StartTime", _stamp(j.started)),
                el("EndTime", _stamp(j.ended)), "<Input>", el("UrlFile", j.url_file), "</Input>",
                "<Operation>", el("Tag", "PicProcess"), el("QueueId", j.queue), "<JobParam><PicProcess>",
                el("ProcessRule", j.rule), "</PicProcess></JobParam><Output>", el("Region", j.out_region),
                el("Bucket", j.out_bucket), el("Object", j.out_object), "</Output></Operation></JobsDetail>"]
    out.append("</Response>")
    return "".join(out).encode()


def _keys(state: ServerState, job: Job) -> list[str]:
    """The object keys the URL file names (each line a URL of an object of the job's bucket)."""
    found = state.store.get(job.bucket, job.url_file.lstrip("/"))
    if found is None:
        raise ValueError(f"the URL file {job.url_file} does not exist")
    if len(found[1]) > MAX_URL_FILE:
        raise ValueError("the URL file is too large")
    return [unquote(urlsplit(line.strip()).path).lstrip("/") for line in found[1].decode("utf-8").splitlines()
            if line.strip()]


def _run(state: ServerState, job: Job) -> None:
    with state.jobs.lock:
        if job.final:
            return
        job.state, job.started = "Running", time.time()
    try:
        keys = _keys(state, job)
    except (ValueError, UnicodeDecodeError) as error:
        keys, job.message = [], str(error)
    job.total = len(keys)
    for key in keys:
        if job.cancelled.is_set():
            return
        ok = _process_one(state, job, key)
        with state.jobs.lock:
            job.succeeded += ok
            job.failed += not ok
    with state.jobs.lock:
        if not job.final:
            job.state = "Success" if job.failed == 0 and not job.message else "Failed"
            job.ended = time.time()


def _admit(state: ServerState, job: Job) -> bool:
    """Wait for the CI rate limit (a job is paced, not refused), then draw the injected faults once."""
    while not job.cancelled.is_set():
        code = state.faults.admit(rate_limited=True)
        if code != "SlowDown":
            return code is None
        time.sleep(0.01)
    return False


def _process_one(state: ServerState, job: Job, key: str) -> bool:
    state.stats.count("batch_job_object")
    found = state.store.get(job.bucket, key)
    if found is None or not _admit(state, job):
        return False
    out_key = render_job_object(job.out_object, key, job.id)
    header = json.dumps({"is_pic_info": 0, "rules": [{"bucket": job.out_bucket, "fileid": "/" + quote(out_key),
                                                       "rule": job.rule}]})
    try:
        ops = processing.parse_pic_operations(header, job.bucket, key, styles.bucket_styles(state, job.bucket))
        estimate = footprint.request_bytes(imaging.header(found[1]), [rule.pipeline for rule in ops.rules])
        with state.gate.admit(estimate):
            rendered = processing.render(found[1], ops)
    except (RuleError, imaging.NotAnImage, CosError):
        return False
    for item in rendered:
        state.store.put(item.rule.bucket, item.rule.key, item.output.data, content_type=item.output.mime)
    return True
