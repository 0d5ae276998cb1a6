"""Conditional requests on the local server, as COS documents them for GET/HEAD Object
(https://cloud.tencent.com/document/product/436/7753) and for the source of PUT Object - Copy / Upload Part -
Copy (``x-cos-copy-source-If-*``, https://cloud.tencent.com/document/product/436/10881).

GET/HEAD: If-Match mismatch or If-Unmodified-Since after a change -> 412; If-None-Match match or
If-Modified-Since without a change -> 304. Copy source: any failed condition -> 412 and nothing is copied.
Dates are HTTP-dates compared at one-second resolution; an unparseable date is ignored, as HTTP says.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping

from reconciler.local.protocol import CosError
from reconciler.local.store import StoredObject


def _date(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError):
        return None


def _etag_matches(header: str, etag: str) -> bool:
    wanted = {tag.strip() for tag in header.split(",")}
    return "*" in wanted or etag in wanted or etag.strip('"') in wanted


def _modified_since(obj: StoredObject, stamp: float) -> bool:
    return int(obj.mtime) > int(stamp)


def check_read(obj: StoredObject, headers: Mapping[str, str]) -> bool:
    """For GET/HEAD: True when the reply is 304 Not Modified; raises 412 PreconditionFailed."""
    if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
    if if_match is not None and not _etag_matches(if_match, obj.etag):
        raise CosError("PreconditionFailed", "If-Match does not match the object's ETag.")
    unmodified = _date(headers.get("if-unmodified-since"))
    if if_match is None and unmodified is not None and _modified_since(obj, unmodified):
        raise CosError("PreconditionFailed", "The object was modified after If-Unmodified-Since.")
    if if_none is not None:
        return _etag_matches(if_none, obj.etag)
    modified = _date(headers.get("if-modified-since"))
    return modified is not None and not _modified_since(obj, modified)


def check_copy_source(obj: StoredObject, headers: Mapping[str, str]) -> None:
    """For a copy's source: raises 412 PreconditionFailed when any x-cos-copy-source-If-* fails."""
    prefix = "x-cos-copy-source-if-"
    if_match, if_none = headers.get(prefix + "match"), headers.get(prefix + "none-match")
    modified, unmodified = _date(headers.get(prefix + "modified-since")), _date(headers.get(prefix + "unmodified-since"))
    failed = ((if_match is not None and not _etag_matches(if_match, obj.etag))
              or (if_none is not None and _etag_matches(if_none, obj.etag))
              or (modified is not None and not _modified_since(obj, modified))
              or (unmodified is not None and _modified_since(obj, unmodified)))
    if failed:
        raise CosError("PreconditionFailed", "A x-cos-copy-source-If-* condition failed; nothing was copied.")
