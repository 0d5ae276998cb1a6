"""Values shared by the local server's request handler and its operations: the request, the error reply."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def valid_bucket_name(name: str) -> bool:
    """COS bucket names (``<name>-<appid>``): lower-case letters, digits and '-', at most 63 characters."""
    return bool(_BUCKET.match(name))


MAX_KEY_BYTES = 850
MAX_BODY = 5 * 1024**3
_STATUS = {"AccessDenied": 403, "SignatureDoesNotMatch": 403, "InvalidAccessKeyId": 403,
           "RequestTimeTooSkewed": 403, "NoSuchBucket": 404, "NoSuchKey": 404, "InvalidArgument": 400,
           "InvalidURI": 400, "InvalidBucketName": 400, "KeyTooLong": 400, "BadDigest": 400,
           "InvalidDigest": 400, "MalformedXML": 400, "InvalidRange": 416, "FileAlreadyExists": 409,
           "BucketAlreadyExists": 409, "BucketNotEmpty": 409, "SlowDown": 503, "InternalError": 500,
           "MethodNotAllowed": 405, "MissingContentLength": 411, "EntityTooLarge": 400,
           "PreconditionFailed": 412, "ResourceNotFound": 404, "NotModified": 304}


class CosError(Exception):
    """An error reply. ``ci`` errors omit Resource, like Cloud Infinite's documented error body."""

    def __init__(self, code: str, message: str, *, ci: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.ci = code, message, ci
        self.status = _STATUS.get(code, 400)


@dataclass
class Request:
    """What routing needs about one request."""

    method: str
    bucket: str | None
    region: str
    host: str
    key: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body_read: bool = False
    params: dict[str, str] = field(default_factory=dict)
