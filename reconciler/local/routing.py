"""Which operation serves a request of the local server, decided BEFORE anything touches the store.

Every route declares its target (service, bucket, object), method, the sub-resource that selects it (a query
parameter such as ``uploads`` or ``delete``, or a header such as ``x-cos-copy-source``) and every other query
parameter it understands. A request whose query names anything the chosen route does not understand is
refused with COS's ``501 NotImplemented`` naming it, and changes nothing: an emulator that ran a plain write
for ``PUT /k?acl`` would silently lose data (issue 13; COS error codes:
https://cloud.tencent.com/document/product/436/7730). ``handle`` turns any request into a ``Response``
without a socket, which is how route tests call it; the HTTP handler adds parsing, signatures and the wire.

Bucket-level APIs another module serves (e.g. image styles) are added as ``Route`` rows to ``ROUTES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from reconciler.local import buckets, ci_operations, ci_service, inventory, multipart, operations, replies, styles
from reconciler.local.context import ServerState
from reconciler.local.protocol import MAX_KEY_BYTES, CosError, Request, Response

Operation = Callable[[ServerState, Request], Response]


class Target(str, Enum):
    SERVICE = "service"
    BUCKET = "bucket"
    OBJECT = "object"


@dataclass(frozen=True)
class Route:
    """One operation: where and how it is selected, and what else it understands. ``name`` is the SDK
    method's name, counted in ``/-/stats``."""

    name: str
    target: Target
    method: str
    run: Operation
    subresource: str = ""          # the query parameter selecting it ('' = none)
    header: str = ""               # a request header selecting it ('' = none)
    params: frozenset[str] = frozenset()

    def selects(self, req: Request, names: frozenset[str]) -> bool:
        return ((not self.subresource or self.subresource in names)
                and (not self.header or self.header in req.headers))

    def understands(self, name: str) -> bool:
        return name == self.subresource or name in self.params


_LISTING = frozenset({"prefix", "delimiter", "marker", "max-keys", "encoding-type"})
_UPLOADS = frozenset({"prefix", "delimiter", "key-marker", "upload-id-marker", "max-uploads", "encoding-type"})
_PARTS = frozenset({"max-parts", "part-number-marker", "encoding-type"})
_RESPONSE = frozenset(operations.RESPONSE_OVERRIDES)
B, O = Target.BUCKET, Target.OBJECT

ROUTES: tuple[Route, ...] = (
    Route("list_buckets", Target.SERVICE, "GET", buckets.list_buckets),
    # CI image styles, before the bucket routes a ?style request would otherwise fall to
    Route("ci_put_image_style", B, "PUT", styles.put_style, subresource="style"),
    Route("ci_get_image_style", B, "GET", styles.get_styles, subresource="style"),
    Route("ci_delete_image_style", B, "DELETE", styles.delete_style, subresource="style"),
    # bucket inventory configurations (PUT/GET/DELETE ?inventory&id=), before the bucket routes
    Route("put_bucket_inventory", B, "PUT", inventory.put_inventory, subresource="inventory", params=frozenset({"id"})),
    Route("get_bucket_inventory", B, "GET", inventory.get_inventory, subresource="inventory",
          params=frozenset({"id", "continuation-token"})),
    Route("delete_bucket_inventory", B, "DELETE", inventory.delete_inventory, subresource="inventory",
          params=frozenset({"id"})),
    Route("put_bucket", B, "PUT", buckets.put_bucket),
    Route("head_bucket", B, "HEAD", buckets.head_bucket),
    Route("delete_bucket", B, "DELETE", buckets.delete_bucket),
    Route("list_multipart_uploads", B, "GET", multipart.list_uploads, subresource="uploads", params=_UPLOADS),
    Route("list_objects", B, "GET", buckets.list_objects, params=_LISTING),
    Route("delete_objects", B, "POST", buckets.delete_objects, subresource="delete"),
    Route("upload_part_copy", O, "PUT", multipart.upload_part_copy, subresource="uploadId",
          header="x-cos-copy-source", params=frozenset({"partNumber"})),
    Route("upload_part", O, "PUT", multipart.upload_part, subresource="uploadId", params=frozenset({"partNumber"})),
    Route("copy_object", O, "PUT", operations.copy_object, header="x-cos-copy-source"),
    Route("ci_put_object", O, "PUT", ci_operations.put_with_processing, header="pic-operations"),
    Route("put_object", O, "PUT", operations.put_object),
    Route("create_multipart_upload", O, "POST", multipart.initiate, subresource="uploads"),
    Route("complete_multipart_upload", O, "POST", multipart.complete, subresource="uploadId"),
    Route("image_process", O, "POST", ci_operations.image_process, subresource="image_process"),
    Route("list_parts", O, "GET", multipart.list_parts, subresource="uploadId", params=_PARTS),
    Route("ci_get_image_info", O, "GET", ci_operations.image_info, subresource="imageInfo", params=_RESPONSE),
    Route("get_object", O, "GET", operations.get_object, params=_RESPONSE),
    Route("head_object", O, "HEAD", operations.head_object),
    Route("abort_multipart_upload", O, "DELETE", multipart.abort, subresource="uploadId"),
    Route("delete_object", O, "DELETE", operations.delete_object),
)


def stats(state: ServerState) -> Response:
    """``GET /-/stats`` (no bucket, no signature): the request counters as JSON."""
    return Response(200, {"Content-Type": "application/json"}, json.dumps(state.stats.snapshot()).encode())


def is_stats(req: Request) -> bool:
    return req.bucket is None and req.key == "-/stats" and req.method == "GET"


def handle(state: ServerState, req: Request) -> Response:
    """The reply to an already authenticated request: the operation's, or its COS error."""
    try:
        return route(state, req)
    except CosError as exc:
        return error_response(state, exc, req)


def error_response(state: ServerState, exc: CosError, req: Request | None, request_id: str = "") -> Response:
    """COS's XML ``<Error>`` (no Resource for CI errors); HEAD replies carry no body."""
    state.stats.count_error(exc.code)
    request_id = req.request_id if req is not None else request_id
    resource = None if exc.ci else (req.host if req else "") + "/" + (req.key if req else "")
    body = replies.error(exc.code, exc.message, request_id, request_id, resource)
    headers = {"Server": "tencent-ci", **exc.headers} if exc.ci else {}
    if req is not None and req.method == "HEAD":
        return Response(exc.status, {"Content-Length": "0", **headers})
    return Response(exc.status, headers, body)


def route(state: ServerState, req: Request) -> Response:
    """Choose the operation (or refuse), check the bucket and key, run it; raises CosError for an error reply."""
    if req.service == "ci":  # Cloud Infinite's service hosts: never a COS operation
        state.stats.count("ci_service")
        return ci_service.handle(state, req)
    chosen = choose(req, ROUTES)
    if chosen.target is Target.SERVICE:
        if req.key:
            raise CosError("InvalidURI",
                           "The Host header names no bucket (expected <bucket>.cos.<region>.myqcloud.com).")
    elif chosen.target is Target.OBJECT:
        if len(req.key.encode("utf-8")) > MAX_KEY_BYTES:
            raise CosError("KeyTooLong", f"Object keys are at most {MAX_KEY_BYTES} bytes.")
        buckets.require_bucket(state, req)
    state.stats.count(chosen.name)
    if chosen.name == "list_objects" and req.bucket:
        state.stats.count(f"list_objects:{req.bucket}")  # per bucket: which buckets a plan listed
    return chosen.run(state, req)


def _target(req: Request) -> Target:
    if req.bucket is None:
        return Target.SERVICE
    return Target.BUCKET if req.key == "" else Target.OBJECT


def choose(req: Request, routes: Sequence[Route]) -> Route:
    """The route serving ``req``; 501 NotImplemented naming a sub-resource no route here understands, 405 for
    a method the target does not support at all. Download-time processing rules are the CI route's."""
    target = _target(req)
    names = frozenset(n for n in req.params if n.lower() != "x-cos-security-token")
    if target is Target.OBJECT and req.method == "GET" and ci_operations.download_rule(req.params) is not None:
        return Route("ci_get_object", target, "GET", _processing_get)
    candidates = [r for r in routes if r.target is target and r.method == req.method]
    for candidate in candidates:
        if candidate.selects(req, names):
            unknown = sorted(n for n in names if not candidate.understands(n))
            if unknown:
                raise _not_implemented(unknown[0], req)
            return candidate
    known = {r.subresource for r in candidates} | {p for r in candidates for p in r.params}
    unknown = sorted(names - known) or sorted(names)
    if unknown:
        raise _not_implemented(unknown[0], req)
    if target is Target.SERVICE:
        raise CosError("InvalidURI", "The Host header names no bucket (expected <bucket>.cos.<region>.myqcloud.com).")
    raise CosError("MethodNotAllowed", f"{req.method} is not supported on {'a bucket' if target is B else 'an object'}"
                   " here.")


def _processing_get(state: ServerState, req: Request) -> Response:
    return ci_operations.get_with_processing(state, req, operations.RESPONSE_OVERRIDES)


def _not_implemented(name: str, req: Request) -> CosError:
    return CosError("NotImplemented", f"{req.method} with the sub-resource or parameter {name!r} is not implemented "
                    "by the local server; nothing was changed.")
