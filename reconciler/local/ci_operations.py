"""Cloud Infinite's three processing methods on the local server: POST ?image_process (in the cloud), PUT with
Pic-Operations (upon upload) and GET with a rule in the query (during download).

Persistent processing (POST, PUT) is subject to the ``ci_qps`` rate limit; all three get the injected faults.
Errors raised by processing itself are CI-style (no Resource element) and carry CI's documented numeric code as
their ``<Code>`` (``ci_error``; the codes, their culprits and the statuses assumed for them are defined once, in
``declare.ci_errors``); what the server does not emulate is ``501 NotImplemented``. Missing buckets/keys are
COS-style.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from reconciler.local import imaging, processing, replies, styles
from reconciler.local.connection import read_bounded
from reconciler.local.context import ServerState
from reconciler.local.operations import store_object
from reconciler.local.protocol import CosError, Request, Response
from reconciler.declare.ci_errors import CODES, SOURCE_NOT_IMAGE, TOO_FREQUENT, Culprit, code_for
from reconciler.local.ruleparse import LimitExceeded, RuleError, parse_rule

_RULE_PREFIXES = ("imageMogr2/", "imageView2/", "watermark/", "style/")


def download_rule(params: Mapping[str, str]) -> str | None:
    """The processing rule of a GET's query string, or None for a plain download."""
    if "ci-process" in params:
        extra = [f"{k}={v}" for k, v in params.items() if k != "ci-process" and not k.startswith("response-")]
        return "&".join([f"ci-process={params['ci-process']}", *extra])
    for name, value in params.items():
        if name.startswith("ci-process="):  # the SDK's ci_get_object(Rule='ci-process=...') sends it as a name
            return name + (f"={value}" if value else "")
        if name.startswith(_RULE_PREFIXES) or name == "imageSlim":
            return name + (f"={value}" if value else "")
    return None


def ci_error(exc: RuleError | imaging.NotAnImage, key: str = "",
             headers: Mapping[str, str] | None = None) -> CosError:
    """The reply for a processing failure: CI's numeric code for its culprit, with that code's status (both
    ``declare.ci_errors``), or 501 NotImplemented for what the local server does not emulate or cannot hold."""
    if isinstance(exc, imaging.NotAnImage):
        code = code_for(Culprit.SOURCE)
        return CosError(str(SOURCE_NOT_IMAGE), f"{key}: {exc}" if key else str(exc), ci=True, status=code.status,
                        headers=headers)
    if exc.culprit is Culprit.NOT_EMULATED:
        return CosError("NotImplemented", str(exc), ci=True, headers=headers)
    code = code_for(exc.culprit)
    return CosError(str(code.number), str(exc), ci=True, status=code.status, headers=headers)


def _admit(state: ServerState, *, rate_limited: bool) -> None:
    """The rate limit and injected faults. A throttled call is answered in the configured form: 503 SlowDown (the
    default), 429, or CI's -60949 "requests too frequent" (ASSUMPTION: its status is not documented; sent with
    the status ``declare.ci_errors`` gives it)."""
    code = state.faults.admit(rate_limited=rate_limited)
    if code == "SlowDown":
        raise CosError("SlowDown", "Please reduce your request rate.", ci=True)
    if code == "TooManyRequests":
        raise CosError("TooManyRequests", "Please reduce your request rate.", ci=True, status=429)
    if code == str(TOO_FREQUENT):
        raise CosError(code, "Requests too frequent.", ci=True, status=CODES[TOO_FREQUENT].status)
    if code == "InternalError":
        raise CosError("InternalError", "We encountered an internal error. Please try again.", ci=True)


def _source(state: ServerState, req: Request) -> bytes:
    assert req.bucket is not None
    head = state.store.head(req.bucket, req.key)
    if head is not None and head.size > imaging.MAX_INPUT_BYTES:  # refused before reading it into memory
        raise ci_error(LimitExceeded(f"the source is {head.size} bytes: over the {imaging.MAX_INPUT_BYTES} byte "
                                     "input limit"))
    found = state.store.get(req.bucket, req.key)
    if found is None:
        raise CosError("NoSuchKey", "The specified key does not exist.")
    return found[1]


def _operations(state: ServerState, req: Request) -> processing.PicOperations:
    assert req.bucket is not None
    try:
        return processing.parse_pic_operations(req.headers["pic-operations"], req.bucket, req.key,
                                               styles.bucket_styles(state, req.bucket),
                                               advanced_compression=state.ci.get(req.bucket).advanced_compression)
    except RuleError as exc:
        raise ci_error(exc) from None


def _location(req: Request, bucket: str, key: str) -> str:
    return f"{bucket}.cos.{req.region}.myqcloud.com/{key}"


def _run(state: ServerState, req: Request, source: bytes, ops: processing.PicOperations) -> bytes:
    """Render every rule, then write every output; returns the UploadResult body."""
    store = state.store
    for rule in ops.rules:
        if not store.bucket_exists(rule.bucket):
            raise CosError("NoSuchBucket", f"The destination bucket {rule.bucket!r} does not exist.")
    try:
        with state.gate.admit(imaging.pixel_count(source)):
            rendered = processing.render(source, ops)
            info = processing.image_info(source) if ops.is_pic_info else None
    except (RuleError, imaging.NotAnImage) as exc:
        raise ci_error(exc, req.key) from None
    results = []
    for item in rendered:
        store.put(item.rule.bucket, item.rule.key, item.output.data, content_type=item.output.mime)
        results.append(processing.result_entry(item, _location(req, item.rule.bucket, item.rule.key)))
    assert req.bucket is not None
    original = store.head(req.bucket, req.key)
    if original is None:  # deleted concurrently: report what was processed
        raise CosError("NoSuchKey", "The specified key does not exist.")
    return replies.upload_result(original, _location(req, req.bucket, req.key), info, results)


def image_process(state: ServerState, req: Request) -> Response:
    """POST ?image_process: no body is needed (the handler discards or refuses one)."""
    if "pic-operations" not in req.headers:
        raise CosError("InvalidArgument", "image_process needs a Pic-Operations header.", ci=True)
    source = _source(state, req)
    _admit(state, rate_limited=True)
    return Response(200, {"Server": "tencent-ci"}, _run(state, req, source, _operations(state, req)))


def put_with_processing(state: ServerState, req: Request) -> Response:
    ops = _operations(state, req)
    _admit(state, rate_limited=True)
    # refused before reading beyond the processing input limit (intl.cloud.tencent.com/document/product/1045/33430)
    body = read_bounded(req.body, imaging.MAX_INPUT_BYTES, "PUT with Pic-Operations")
    store_object(state, req, body)
    return Response(200, {"Server": "tencent-ci"}, _run(state, req, body, ops))


def _checked_download_rule(req: Request, overrides: Mapping[str, str]) -> str:
    """The rule of a download-time processing GET. With a rule as a parameter's name, any other parameter but
    the response-* overrides is refused; ``ci-process`` names and their parameters are checked by parse_rule."""
    rule = download_rule(req.params)
    assert rule is not None
    if "ci-process" not in req.params:
        extra = sorted(k for k in req.params if k not in overrides and not rule.startswith(k))
        if extra:
            raise CosError("NotImplemented", f"GET with the parameter {extra[0]!r} is not implemented by the local "
                           "server; nothing was changed.")
    return rule


def get_with_processing(state: ServerState, req: Request, overrides: Mapping[str, str]) -> Response:
    """Download-time processing; ``overrides`` are the response-* parameters GET understands. Errors carry CI's
    numeric ``X-ErrNo`` (1045/33700)."""
    rule = _checked_download_rule(req, overrides)
    source = _source(state, req)
    assert req.bucket is not None
    try:
        pipeline = parse_rule(rule, styles.bucket_styles(state, req.bucket),
                              advanced_compression=state.ci.get(req.bucket).advanced_compression)
    except RuleError as exc:
        errno = "-105" if rule.startswith("style/") else "-1"
        raise ci_error(exc, headers={"X-ErrNo": errno}) from None
    _admit(state, rate_limited=False)
    state.gate.pace_download()
    try:
        with state.gate.admit(imaging.pixel_count(source)):
            output = imaging.process(source, pipeline)
    except RuleError as exc:
        errno = "-1" if exc.culprit is Culprit.NOT_EMULATED else "-442" if "px a side" in str(exc) else "-447"
        raise ci_error(exc, headers={"X-ErrNo": errno}) from None
    except imaging.NotAnImage as exc:
        raise ci_error(exc, req.key, headers={"X-ErrNo": "-441"}) from None
    return Response(200, {"Content-Type": output.mime, "Server": "tencent-ci"}, output.data)


def image_info(state: ServerState, req: Request) -> Response:
    """``GET /<key>?imageInfo`` (the SDK's ci_get_image_info): the JSON CI returns, every value a string
    (https://cloud.tencent.com/document/product/460/36504)."""
    source = _source(state, req)
    try:
        info = imaging.describe(source)
        frames = imaging.frame_count(source)
    except (RuleError, imaging.NotAnImage) as exc:
        raise ci_error(exc, req.key) from None
    doc = {"format": info.format, "width": str(info.width), "height": str(info.height), "size": str(len(source)),
           "md5": hashlib.md5(source).hexdigest(), "frame_count": str(frames), "photo_rgb": info.ave}
    return Response(200, {"Content-Type": "application/json"}, json.dumps(doc).encode())
