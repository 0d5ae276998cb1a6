"""Cloud Infinite batch processing jobs as values, and their XML (values only: ``storage.cos`` sends them).

Request fields, each from its page:
- ``POST /inventorytriggerjob`` on ``<bucket>.ci.<region>.myqcloud.com``, ``<Request>`` with ``Name`` (up to 128
  letters, digits, ``-`` and ``_``), ``Type`` Job, ``Input/UrlFile`` (an object whose lines are object URLs),
  ``Operation`` {``Tag``, ``QueueId``, ``JobParam``, ``Output`` {``Region``, ``Bucket``, ``Object``}}:
  "Triggering Job (Independent Node)", https://www.tencentcloud.com/document/product/1045/50369
- ``Operation/Tag`` PicProcess (the image processing job tag): https://www.tencentcloud.com/document/product/1045/50336
- ``JobParam/PicProcess`` {``IsPicInfo``, ``ProcessRule``}: the PicProcess container of CreateMediaTemplate,
  https://cloud.tencent.com/document/api/436/84993 (the pic_jobs page says a job's PicProcess is that container)
- describe ``GET /inventorytriggerjob/<jobId>``: https://www.tencentcloud.com/document/api/436/50620; list ``GET
  /inventorytriggerjob`` and cancel ``PUT /inventorytriggerjob/<jobId>?cancel``: the pages beside it (the SDK's
  ``ci_list_inventory_trigger_jobs``/``ci_delete_inventory_trigger_jobs`` cite 460/76894 and 460/76892).
- States: Submitted, Running, Success, Failed, Pause, Cancel (the same list pages).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

FINAL_STATES = frozenset({"Success", "Failed", "Cancel"})


@dataclass(frozen=True)
class JobRequest:
    """One PicProcess batch job over a URL file."""

    name: str
    queue: str
    url_file: str  # the URL file's key in the job's bucket
    rule: str
    out_region: str
    out_bucket: str
    out_object: str  # with the job's output variables (``declare.jobvars``)


@dataclass(frozen=True)
class JobInfo:
    """A job as CI describes it."""

    id: str
    name: str
    state: str
    created: str = ""
    ended: str = ""
    message: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def request_xml(job: JobRequest) -> bytes:
    e = escape
    return ("<Request>"
            f"<Name>{e(job.name)}</Name><Type>Job</Type><Input><UrlFile>{e(job.url_file)}</UrlFile></Input>"
            f"<Operation><Tag>PicProcess</Tag><QueueId>{e(job.queue)}</QueueId>"
            f"<JobParam><PicProcess><IsPicInfo>false</IsPicInfo><ProcessRule>{e(job.rule)}</ProcessRule>"
            "</PicProcess></JobParam>"
            f"<Output><Region>{e(job.out_region)}</Region><Bucket>{e(job.out_bucket)}</Bucket>"
            f"<Object>{e(job.out_object)}</Object></Output></Operation></Request>").encode("utf-8")


def parse_jobs(body: bytes) -> list[JobInfo]:
    """Every ``JobsDetail`` of a create, describe or list reply. ValueError when it is not such a reply."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise ValueError(f"not a job reply: {error}") from None
    return [JobInfo(d.findtext("JobId") or "", d.findtext("Name") or "", d.findtext("State") or "",
                    d.findtext("CreationTime") or "", d.findtext("EndTime") or "", d.findtext("Message") or "")
            for d in root.iter("JobsDetail")]
