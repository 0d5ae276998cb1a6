"""Which operation serves a request of the local server: dispatch on the bucket, key and method (and the
query's sub-resource), and the error reply. ``handle`` turns any request into a ``Response`` without a
socket, which is how route tests call it; the HTTP handler adds parsing, signatures and the wire.
"""

from __future__ import annotations

import json

from reconciler.local import buckets, ci_operations, operations, replies, styles
from reconciler.local.context import ServerState
from reconciler.local.protocol import MAX_KEY_BYTES, CosError, Request, Response


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
    """Dispatch one request; raises CosError for an error reply."""
    if req.bucket is None:
        if req.method == "GET" and req.key == "":
            state.stats.count("list_buckets")
            return buckets.list_buckets(state, req)
        raise CosError("InvalidURI", "The Host header names no bucket (expected <bucket>.cos.<region>.myqcloud.com).")
    if req.key == "":
        return _bucket_route(state, req)
    buckets.require_bucket(state, req)
    if len(req.key.encode("utf-8")) > MAX_KEY_BYTES:
        raise CosError("KeyTooLong", f"Object keys are at most {MAX_KEY_BYTES} bytes.")
    return _object_route(state, req)


def _object_route(state: ServerState, req: Request) -> Response:
    count = state.stats.count
    if req.method == "PUT":
        if "x-cos-copy-source" in req.headers:
            count("copy_object")
            return operations.copy_object(state, req)
        if "pic-operations" in req.headers:
            return ci_operations.put_with_processing(state, req)
        count("put_object")
        return operations.put_object(state, req)
    if req.method == "GET":
        rule = ci_operations.download_rule(req.params)
        if rule is not None:
            return ci_operations.get_with_processing(state, req, rule)
        count("get_object")
        return operations.get_object(state, req)
    if req.method == "HEAD":
        count("head_object")
        return operations.head_object(state, req)
    if req.method == "DELETE":
        count("delete_object")
        return operations.delete_object(state, req)
    if req.method == "POST" and "image_process" in req.params:
        return ci_operations.image_process(state, req)
    raise CosError("MethodNotAllowed", f"{req.method} is not supported on an object here.")


def _bucket_route(state: ServerState, req: Request) -> Response:
    count = state.stats.count
    if "style" in req.params and req.method in ("PUT", "GET", "DELETE"):  # CI image styles (local/styles.py)
        buckets.require_bucket(state, req)
        count("image_style")
        return {"PUT": styles.put_style, "GET": styles.get_styles, "DELETE": styles.delete_style}[req.method](
            state, req)
    if req.method == "PUT":
        count("put_bucket")
        return buckets.put_bucket(state, req)
    if req.method == "HEAD":
        count("head_bucket")
        return buckets.head_bucket(state, req)
    if req.method == "DELETE":
        count("delete_bucket")
        return buckets.delete_bucket(state, req)
    if req.method == "GET":
        count("list_objects")
        return buckets.list_objects(state, req)
    if req.method == "POST" and "delete" in req.params:
        count("delete_objects")
        return buckets.delete_objects(state, req)
    buckets.require_bucket(state, req)
    raise CosError("MethodNotAllowed", f"{req.method} is not supported on a bucket here.")
