"""Hypothesis strategies for fuzzing the local server over HTTP, shared by tests/local/test_hostile_fuzz.py (a few
hundred examples in ``make test``) and scripts/fuzz_local_server.py (as many as you like).

Each strategy draws one raw HTTP request (bytes on the wire) aimed at one parser: Pic-Operations JSON, the
POST ?delete XML body, download-time rules, listing parameters, copy sources, Range/If-* headers, the
Authorization string, the request line, keys (lone surrogates included) and arbitrary headers. Requests that
should reach a route are signed correctly, so the fuzz gets past the signature check.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable
from xml.etree import ElementTree
from urllib.parse import quote

from hypothesis import strategies as st

from reconciler.local import LocalServer
from tests.local.hostile_http import host_of, read_reply, signed_auth

BUCKET = "fuzz-1250000000"
SOURCE = "src/photo.jpg"

_NUMBERS = st.sampled_from(["0", "1", "2", "10", "99", "360", "999", "2000", "-1", "", "abc", "²", "١٢",
                            "1.5", "0x0", "10x", "x10", "10x10", "0x0x0x0", "20000x20000", "9" * 25, "!50p",
                            "50@", "10x10!", "10x10>", "-5x-5", " 7"])
_MOGR2 = st.sampled_from(["thumbnail", "crop", "cut", "gravity", "dx", "dy", "rotate", "flip", "format",
                          "quality", "rquality", "lquality", "interlace", "blur", "grayscale", "bright",
                          "contrast", "sharpen", "size-limit", "ignore-error", "iradius", "rradius", "scrop",
                          "rcrop", "strip", "auto-orient", "indexcrop", "unknown", ""])
_AI = st.sampled_from(["AISuperResolution", "AIImageColoring", "AIEnhanceImage", "AIImageCrop", "AIPicMatting",
                       "AIPortraitMatting", "GoodsMatting", "Nope", ""])
_AI_PARAMS = st.sampled_from(["magnify", "denoise", "sharpen", "width", "height", "fixed", "center-layout",
                              "padding-layout", "junk"])
_JUNK = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def rules(draw: st.DrawFn) -> str:
    """A processing rule: mostly grammar-shaped with hostile values, sometimes any text."""
    kind = draw(st.sampled_from(["mogr2", "view2", "ai", "watermark", "style", "text"]))
    if kind == "mogr2":
        pairs = draw(st.lists(st.tuples(_MOGR2, _NUMBERS), min_size=1, max_size=4))
        one = "imageMogr2/" + "/".join(f"{k}/{v}" for k, v in pairs)
    elif kind == "view2":
        one = f"imageView2/{draw(_NUMBERS)}/w/{draw(_NUMBERS)}/h/{draw(_NUMBERS)}"
    elif kind == "ai":
        params = draw(st.lists(st.tuples(_AI_PARAMS, _NUMBERS), max_size=3))
        one = "ci-process=" + draw(_AI) + "".join(f"&{k}={v}" for k, v in params)
    elif kind == "watermark":
        one = f"watermark/{draw(st.sampled_from(['1', '2', '3', '9']))}/text/{draw(_JUNK)}/image/{draw(_JUNK)}"
    elif kind == "style":
        one = "style/" + draw(_JUNK)
    else:
        return draw(_JUNK)
    count = draw(st.integers(1, 3))
    return "|".join([one] * count) if draw(st.booleans()) else one


_FILEIDS = st.one_of(_JUNK, st.sampled_from(["\ud800", "a/\udfff.jpg", "/", "", "../x.jpg", "/abs.png",
                                             "x" * 900, "dir/", "\x00.jpg", "ok.jpg"]))


@st.composite
def pic_operations(draw: st.DrawFn) -> str:
    """A Pic-Operations header: well-formed JSON with hostile fields, or broken JSON. ASCII-only (ensure_ascii),
    so lone surrogates travel as \\ud800 escapes, as a client would send them."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
    value = st.one_of(st.none(), st.booleans(), st.integers(-10, 10 ** 20), st.floats(allow_nan=True), _JUNK)
    rule_items = st.fixed_dictionaries({"fileid": st.one_of(_FILEIDS, value), "rule": st.one_of(rules(), value)},
                                       optional={"bucket": st.one_of(st.just(BUCKET), _JUNK, value)})
    doc = draw(st.fixed_dictionaries({}, optional={
        "is_pic_info": st.one_of(st.sampled_from([0, 1, "1", "x", None, [], 2 ** 80]), value),
        "rules": st.one_of(st.lists(rule_items, max_size=6), value, st.dictionaries(_JUNK, value, max_size=2))}))
    return json.dumps(doc, ensure_ascii=True)


@st.composite
def delete_bodies(draw: st.DrawFn) -> bytes:
    """A POST ?delete body: shaped XML with hostile keys, entity tricks, or any bytes."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
                '<Delete><Object><Key>&d;</Key></Object></Delete>').encode()
    if kind == 2:
        return b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>'
    keys = draw(st.lists(st.one_of(_JUNK, st.just("k" * 900), st.just("")), max_size=5))
    quiet = draw(st.sampled_from(["", "<Quiet>true</Quiet>", "<Quiet>\x01</Quiet>"]))
    objects = "".join(f"<Object><Key>{_xml(k)}</Key></Object>" for k in keys)
    return f"<Delete>{quiet}{objects}</Delete>".encode("utf-8", "surrogatepass")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _encoded(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="/")


def _signable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def build_request(server: LocalServer, method: str, key: str, headers: dict[str, str],
             params: list[tuple[str, str]] | None = None, body: bytes = b"", *, sign: bool = True) -> bytes:
    """The bytes of one request; signed like the SDK when ``sign`` and the values can be signed."""
    params = params or []
    headers = {"host": host_of(BUCKET), **headers, "content-length": str(len(body))}
    query = "&".join(_encoded(k).replace("/", "%2F") + (f"={_encoded(v)}" if v else "") for k, v in params)
    target = "/" + _encoded(key) + (f"?{query}" if query else "")
    if sign and all(_signable(t) for t in [key, *(k for k, _ in params), *(v for _, v in params)]):
        headers["authorization"] = signed_auth(server, method, key, headers, dict(params))
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@st.composite
def requests_(draw: st.DrawFn, server: LocalServer) -> bytes:
    """One hostile request for ``server`` (a bucket BUCKET holding a JPEG at SOURCE)."""
    target = draw(st.sampled_from(["image_process", "pic_put", "delete", "download", "list", "copy", "conditional",
                                   "authorization", "key", "headers", "request_line"]))
    ascii_value = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
    latin1_value = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
                           max_size=30)
    make: dict[str, Callable[[], bytes]] = {
        "image_process": lambda: build_request(server, "POST", SOURCE, {"pic-operations": draw(pic_operations())},
                                          [("image_process", "")]),
        "pic_put": lambda: build_request(server, "PUT", "up/" + draw(_JUNK) + ".jpg",
                                    {"pic-operations": draw(pic_operations())}, body=draw(st.binary(max_size=64))),
        "delete": lambda: build_request(server, "POST", "", {}, [("delete", "")], draw(delete_bodies())),
        "download": lambda: build_request(server, "GET", SOURCE, {}, [(draw(rules()), "")]
                                     if draw(st.booleans()) else [("ci-process", draw(_AI))] + draw(
                                         st.lists(st.tuples(_AI_PARAMS, _NUMBERS), max_size=3))),
        "list": lambda: build_request(server, "GET", "", {}, draw(st.lists(st.tuples(
            st.sampled_from(["prefix", "marker", "max-keys", "delimiter", "encoding-type", "acl", "x"]),
            st.one_of(_NUMBERS, _JUNK)), max_size=4, unique_by=lambda kv: kv[0]))),
        "copy": lambda: build_request(server, "PUT", "copy/" + draw(_JUNK), {"x-cos-copy-source": draw(st.one_of(
            ascii_value, st.just(f"{host_of(BUCKET)}/{SOURCE}"), st.just(f"{host_of(BUCKET)}/%ff%fe"))),
            "x-cos-metadata-directive": draw(st.sampled_from(["Copy", "Replaced", "x"]))}),
        "conditional": lambda: build_request(server, draw(st.sampled_from(["GET", "HEAD"])), SOURCE, {
            draw(st.sampled_from(["range", "if-match", "if-none-match", "content-md5"])): draw(ascii_value)}),
        "authorization": lambda: build_request(server, "GET", SOURCE, {"authorization": draw(latin1_value)},
                                               sign=False),
        "key": lambda: build_request(server, draw(st.sampled_from(["GET", "PUT", "HEAD", "DELETE"])), draw(st.one_of(
            _JUNK, st.text(max_size=10).map(lambda t: t + "\ud800"), st.just("k" * 900))), {}),
        "headers": lambda: build_request(server, draw(st.sampled_from(["GET", "PUT", "POST"])), SOURCE, dict(draw(
            st.lists(st.tuples(st.sampled_from(["range", "content-md5", "x-cos-meta-a", "x-cos-forbid-overwrite",
                                                "pic-operations", "content-type", "expect", "x-cos-acl", "x-odd"]),
                               latin1_value), max_size=4))), body=draw(st.binary(max_size=16))),
        "request_line": lambda: draw(st.binary(max_size=60)) + b"\r\n\r\n",
    }
    return make[target]()


def acceptable(status: int) -> bool:
    """A refusal or a success: never 500 InternalError nor any other 5xx, except the two a client is meant to
    see: 501 NotImplemented (a sub-resource the local server does not emulate; nothing changed) and 503
    SlowDown (a rate or admission limit)."""
    return status < 500 or status in (501, 503)


def exchange(server: LocalServer, request: bytes, timeout: float = 20.0) -> int:
    """Send one request on a fresh connection and return the reply's status; 0 when the server closed without
    a parsable reply (an empty or HTTP/0.9 request line), which the caller's traceback check still covers.
    An XML error body that does not parse (a raw control character from a key, say) fails here."""
    method = request.split(b" ", 1)[0].decode("latin-1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            status, headers, body = read_reply(sock, method)
        except (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError, BrokenPipeError):
            return 0
    if status >= 400 and body and "xml" in headers.get("content-type", ""):
        try:
            ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise AssertionError(f"{status} with an error body that is not XML: {body[:300]!r}") from None
    return status
