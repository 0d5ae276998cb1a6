"""Bucket image styles on the local server: the CI style API as cos-python-sdk-v5 calls it, and the lookup
``style/<name>`` rules use.

``ci_put_image_style`` sends ``PUT /?style`` with ``<AddStyle><StyleName/><StyleBody/></AddStyle>``,
``ci_get_image_style`` ``GET /?style`` with ``<GetStyle><StyleName/></GetStyle>`` (no name: every style) and
``ci_delete_image_style`` ``DELETE /?style`` with ``<DeleteStyle><StyleName/></DeleteStyle>``, all to the bucket's
``<bucket>.pic.<region>.myqcloud.com`` host (CI docs, 'Style Management'). The reply to GET is
``<StyleList><StyleRule><StyleName/><StyleBody/></StyleRule>...</StyleList>``. A style body must be a valid rule
(the one grammar, ``declare.rules``) and cannot itself be a ``style/``. Styles live in ``<root>/styles/<bucket>.json``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from xml.etree import ElementTree

from reconciler.declare import operations as ops
from reconciler.declare import rules
from reconciler.local import buckets
from reconciler.local.bucketmaps import map_path, read_map, write_map
from reconciler.local.connection import read_bounded
from reconciler.local.context import ServerState
from reconciler.local.protocol import CosError, Request, Response
from reconciler.local.replies import XML_HEAD, xml_text

_LOCK = threading.Lock()
MAX_BODY = 64 * 1024


def _path(state: ServerState, bucket: str) -> Path:
    return map_path(state.store.root, "styles", bucket)


def bucket_styles(state: ServerState, bucket: str) -> dict[str, str]:
    """The bucket's styles, name -> definition ({} when it has none)."""
    path = _path(state, bucket)
    with _LOCK:
        return read_map(path)


def _save(state: ServerState, bucket: str, styles: dict[str, str]) -> None:
    write_map(_path(state, bucket), styles)


def _fields(req: Request, root: str) -> dict[str, str]:
    length = req.body.length or 0
    if length > MAX_BODY:
        raise CosError("InvalidArgument", f"The {root} body is over {MAX_BODY} bytes.", ci=True)
    body = read_bounded(req.body, MAX_BODY, f"the {root} body")  # chunked bodies too
    if not body:
        return {}
    try:
        element = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise CosError("MalformedXML", "The style request body is not well-formed XML.", ci=True) from None
    if element.tag != root:
        raise CosError("MalformedXML", f"The style request body's root must be <{root}>.", ci=True)
    return {child.tag: (child.text or "").strip() for child in element}


def _name(fields: dict[str, str], required: bool) -> str:
    name = fields.get("StyleName", "")
    if (required or name) and not ops.STYLE_NAME.fullmatch(name):
        raise CosError("InvalidArgument", "StyleName must be 1-64 letters, digits, '_', '-' or '.', and not '.' or '..'.",
                       ci=True)
    return name


def put_style(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    buckets.require_bucket(state, req)
    fields = _fields(req, "AddStyle")
    name, body = _name(fields, True), fields.get("StyleBody", "")
    enabled = [sep for sep in state.ci.get(req.bucket).separators if sep in name]
    if enabled:  # a name may not contain a separator enabled on the bucket (436/119416; ``local.bucket_ci``)
        raise CosError("InvalidArgument", f"StyleName {name!r} contains {enabled[0]!r}, a style separator enabled "
                       "on this bucket.", ci=True)
    try:
        parsed = rules.parse_rule(body)
    except rules.RuleError as exc:
        raise CosError("InvalidArgument", f"StyleBody: {exc}", ci=True) from None
    if parsed.operations[0].processor == "style":
        raise CosError("InvalidArgument", "StyleBody cannot be another style.", ci=True)
    with _LOCK:
        styles = read_map(_path(state, req.bucket))
        styles[name] = parsed.text
        _save(state, req.bucket, styles)
    return Response(200, {"Server": "tencent-ci"})


def get_styles(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    buckets.require_bucket(state, req)
    name = _name(_fields(req, "GetStyle"), False)
    styles = bucket_styles(state, req.bucket)
    chosen = {name: styles[name]} if name and name in styles else ({} if name else styles)
    out = [XML_HEAD, "<StyleList>"]
    for style, body in sorted(chosen.items()):
        out.append(f"<StyleRule><StyleName>{xml_text(style)}</StyleName><StyleBody>{xml_text(body)}</StyleBody></StyleRule>")
    out.append("</StyleList>")
    return Response(200, {"Server": "tencent-ci"}, "".join(out).encode())


def delete_style(state: ServerState, req: Request) -> Response:
    assert req.bucket is not None
    buckets.require_bucket(state, req)
    name = _name(_fields(req, "DeleteStyle"), True)
    with _LOCK:
        path = _path(state, req.bucket)
        styles = read_map(path)
        styles.pop(name, None)
        _save(state, req.bucket, styles)
    return Response(204, {"Server": "tencent-ci"})
