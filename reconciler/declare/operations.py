"""The table of Cloud Infinite operations and parameters, with their documented ranges. Pure data, no I/O.

This is the ONE grammar: ``declare.rules`` validates and normalises with it, and the local server
(``local.ruleparse``) builds its processing steps from what ``declare.rules`` parsed with it. Every row names
the documentation page it comes from, the values it accepts, example values (a test runs each through
validate and the local server and requires the same verdict) and how the local server handles it:
``REAL`` (produced as the docs describe), ``APPROXIMATED`` (right size and format, content approximated) or
``REFUSED`` (the cloud accepts it, the local server answers 400 saying it does not emulate it).

Numbers are ASCII digits only (``str.isdigit`` also accepts ``²``) and at most 9 digits, so no value can make
``int()`` fail or take long.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

DOCS = "https://www.tencentcloud.com/document/product/1045/"
SCALING = DOCS + "33713"  # imageMogr2 thumbnail, pad, color
CROPPING = DOCS + "33714"  # cut, crop, gravity, dx, dy, iradius, rradius, scrop, rcrop
ROTATION = DOCS + "33715"  # rotate, auto-orient, flip
FORMAT = DOCS + "33716"  # format, cgif, interlace, minisize
QUALITY = DOCS + "33717"  # quality, rquality, lquality
SIZE_LIMIT = DOCS + "40716"  # size-limit
PROGRESSIVE = DOCS + "73027"  # interlace (JPG only)
PERSISTENT = "https://www.tencentcloud.com/zh/document/product/1045/73025"  # Pic-Operations (as cos-notes.md cites it)
# Pages whose numeric id was not confirmed when this table was written are named by title.
ADJUST = "CI API docs, imageMogr2 pages 'Gaussian Blurring', 'Sharpening', 'Brightness', 'Contrast', 'Grayscale'"
STRIP = "CI API docs, imageMogr2 page 'Removing Image Metadata' (strip)"
VIEW = "CI API docs, 'Basic Image Processing' (imageView2)"
WATERMARK = "CI API docs, 'Image Watermark' / 'Text Watermark' / 'Blind Watermark'"
SLIM = "CI API docs, 'Image Slimming' (imageSlim)"
STYLES = "CI API docs, 'Style Management' (bucket image styles)"
AI = "CI API docs, 'AI-Based Content Recognition' pages; seed document ci-ai-processing-persistent.txt"
SUPER_RESOLUTION = "https://cloud.tencent.com/document/product/460/109091"  # magnify: default 2, [2,4], even only
GOODS_MATTING = "https://cloud.tencent.com/document/product/460/109643"  # padding-layout: dx, dy at most 1000 px

MAX_OPERATIONS = 10  # operations joined by '|' in one rule (PERSISTENT)
MAX_OUTPUT_SIDE = 9_999  # output width/height for imageMogr2 processing (SCALING, CROPPING, ROTATION)
MAX_INPUT_SIDE = 30_000  # imageMogr2 pages; the Specifications page says 50,000: the stricter is followed
MAX_INPUT_PIXELS = 250_000_000
MAX_INPUT_BYTES = 32 * 1024 * 1024
MAX_AI_INPUT_BYTES = 5 * 1024 * 1024
MAX_GIF_FRAMES = 300
GRAVITIES = ("northwest", "north", "northeast", "west", "center", "east", "southwest", "south", "southeast")
FORMATS = ("jpg", "jpeg", "png", "apng", "bmp", "webp", "tiff", "gif", "avif", "heif", "heic", "tpg", "yjpeg")
LOCAL_FORMATS = {"jpg": "jpg", "jpeg": "jpg", "yjpeg": "jpg", "png": "png", "apng": "png", "bmp": "bmp",
                 "webp": "webp", "tiff": "tiff", "gif": "gif", "avif": "avif"}


class Local(str, Enum):
    """How the local server handles an operation or parameter."""

    REAL = "real"
    APPROXIMATED = "approximated"
    REFUSED = "refused"


Check = Callable[[str], bool]
_NUMBER = re.compile(r"-?[0-9]{1,9}")


def number(text: str) -> int | None:
    """The integer ``text`` spells in ASCII digits (at most 9), or None."""
    return int(text) if _NUMBER.fullmatch(text) else None


def in_range(lo: int, hi: int) -> Check:
    def check(value: str) -> bool:
        n = number(value)
        return n is not None and lo <= n <= hi

    return check


def numbers_in(pattern: str, lo: int, hi: int) -> Check:
    """A value matching ``pattern`` (ASCII) whose every integer lies in lo..hi."""
    compiled = re.compile(pattern)

    def check(value: str) -> bool:
        return compiled.fullmatch(value) is not None and all(
            len(n) <= 9 and lo <= int(n) <= hi for n in re.findall(r"[0-9]+", value))

    return check


def one_of(*values: str) -> Check:
    return lambda value: value in values


def base64url(value: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", value) is not None


def b64_decoded(value: str) -> str | None:
    """The UTF-8 text of a URL-safe base64 value (padding optional), or None."""
    if not base64url(value):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def b64_color(value: str) -> bool:
    """URL-safe base64 of ``#RRGGBB``, as CI's color and fill parameters are written."""
    text = b64_decoded(value)
    return text is not None and re.fullmatch(r"#[0-9A-Fa-f]{6}", text) is not None


_THUMB = re.compile(r"!(?P<pct>[0-9]{1,4}(?:\.[0-9]{1,2})?)p|!(?P<wpct>[0-9]{1,4}(?:\.[0-9]{1,2})?)px"
                    r"|!x(?P<hpct>[0-9]{1,4}(?:\.[0-9]{1,2})?)p|(?P<area>[0-9]{1,9})@"
                    r"|!(?P<rw>[0-9]{1,5})x(?P<rh>[0-9]{1,5})r|(?P<w>[0-9]{1,5})?x(?P<h>[0-9]{1,5})?(?P<mod>[!<>])?")


def thumbnail_match(value: str) -> re.Match[str] | None:
    """The parsed ``thumbnail`` geometry (SCALING), or None: percentages 1-1000, sides 1-9,999."""
    m = _THUMB.fullmatch(value)
    if m is None or value in ("x", "x!", "x<", "x>"):
        return None
    for name in ("pct", "wpct", "hpct"):
        if m[name] is not None and not 0 < float(m[name]) <= 1000:
            return None
    for name in ("rw", "rh", "w", "h"):
        if m[name] is not None and not 1 <= int(m[name]) <= MAX_OUTPUT_SIDE:
            return None
    if m["area"] is not None and not 1 <= int(m["area"]) <= MAX_INPUT_PIXELS:
        return None
    return m


@dataclass(frozen=True)
class Param:
    """One documented parameter: its check, what is expected, its page, examples, how the server handles it."""

    name: str
    check: Check | None  # None: a flag without value
    expected: str
    doc: str
    examples: tuple[str, ...] = ()
    local: Local = Local.REAL
    note: str = ""  # what the local server does not emulate, for REFUSED / APPROXIMATED


def _p(name: str, check: Check | None, expected: str, doc: str, *examples: str, local: Local = Local.REAL,
       note: str = "") -> Param:
    return Param(name, check, expected, doc, examples, local, note)


_QUALITY = numbers_in(r"[0-9]{1,3}!?", 0, 100)
_SIZE = numbers_in(r"[0-9]+x|x[0-9]+|[0-9]+x[0-9]+", 1, MAX_OUTPUT_SIDE)
_THUMB_FORMS = "!Np, !Npx, !xNp (N 1-1000, up to 2 decimals), Wx, xH, WxH, WxH>, WxH<, WxH!, !WxHr (sides 1-9999), Area@"

MOGR: dict[str, Param] = {p.name: p for p in (
    _p("thumbnail", lambda v: thumbnail_match(v) is not None, f"one of the forms {_THUMB_FORMS}", SCALING,
       "!50p", "!50.5p", "!50px", "!x50p", "200x", "x120", "200x150", "200x150>", "200x150<", "200x150!",
       "!200x200r", "40000@"),
    _p("pad", one_of("0", "1"), "0 or 1", SCALING, "1"),
    _p("color", b64_color, "URL-safe base64 of #RRGGBB", SCALING, "I0ZGMDAwMA"),
    _p("cut", numbers_in(r"[1-9][0-9]*x[1-9][0-9]*x[0-9]+x[0-9]+", 0, MAX_INPUT_SIDE),
       "WxHxDXxDY (W, H 1-30000; DX, DY 0-30000)", CROPPING,
       "100x50x10x10"),
    _p("crop", _SIZE, "Wx, xH or WxH (1-9999)", CROPPING, "300x200", "300x", "x200"),
    _p("gravity", one_of(*GRAVITIES), "one of " + ", ".join(GRAVITIES), CROPPING, "center", "southeast"),
    _p("dx", in_range(-MAX_INPUT_SIDE, MAX_INPUT_SIDE), "an integer offset", CROPPING, "10"),
    _p("dy", in_range(-MAX_INPUT_SIDE, MAX_INPUT_SIDE), "an integer offset", CROPPING, "10"),
    _p("iradius", in_range(1, MAX_OUTPUT_SIDE), "a radius 1-9999", CROPPING, "100"),
    _p("rradius", in_range(1, MAX_OUTPUT_SIDE), "a radius 1-9999", CROPPING, "20"),
    _p("scrop", numbers_in(r"[0-9]+x[0-9]+", 1, MAX_OUTPUT_SIDE), "WxH (1-9999)", CROPPING, "200x100"),
    _p("rcrop", _SIZE, "Wx, xH or WxH (1-9999)", CROPPING, "100x", local=Local.REFUSED,
       note="rcrop is not emulated by the local server"),
    _p("rotate", in_range(0, 360), "an angle 0-360", ROTATION, "90", "45", "0", "360"),
    _p("auto-orient", None, "no value", ROTATION, ""),
    _p("flip", one_of("vertical", "horizontal"), "vertical or horizontal", ROTATION, "vertical", "horizontal"),
    _p("format", one_of(*FORMATS), "one of " + ", ".join(FORMATS), FORMAT,
       "png", "webp", "jpg", "jpeg", "yjpeg", "gif", "bmp", "tiff", "avif", "apng", "heif", "heic", "tpg"),
    _p("cgif", in_range(1, 100), "a frame count 1-100", FORMAT, "10"),
    _p("interlace", one_of("0", "1"), "0 or 1", PROGRESSIVE, "1", "0"),
    _p("minisize", one_of("0", "1"), "0 or 1", FORMAT, "1"),
    _p("quality", _QUALITY, "0-100, optionally followed by '!'", QUALITY, "85", "95!", "0", "100"),
    _p("rquality", in_range(0, 100), "0-100", QUALITY, "50"),
    _p("lquality", in_range(0, 100), "0-100", QUALITY, "50"),
    _p("strip", None, "no value", STRIP, ""),
    _p("blur", numbers_in(r"[0-9]+x[0-9]+", 1, 50), "RxS, radius and sigma 1-50", ADJUST, "3x2", "8x5"),
    _p("bright", in_range(-100, 100), "-100 to 100", ADJUST, "10", "-20"),
    _p("contrast", in_range(-100, 100), "-100 to 100", ADJUST, "30", "-10"),
    _p("sharpen", in_range(10, 300), "an amount 10-300", ADJUST, "70"),
    _p("grayscale", one_of("0", "1"), "0 or 1", ADJUST, "1"),
    _p("size-limit", numbers_in(r"[0-9]+[km]!?", 1, 32 * 1024), "N followed by k or m, optionally '!'", SIZE_LIMIT,
       "15k!", "5k", "1m"),
    _p("ignore-error", one_of("1"), "1", CROPPING, "1"),
)}
FORMAT_NOTES = {"heif": "format/heif", "heic": "format/heic", "tpg": "format/tpg"}  # no local encoder

VIEW_MODES = ("0", "1", "2", "3", "4", "5")
VIEW_PARAMS: dict[str, Param] = {p.name: p for p in (
    _p("w", in_range(1, MAX_OUTPUT_SIDE), "a width 1-9999", VIEW, "320"),
    _p("h", in_range(1, MAX_OUTPUT_SIDE), "a height 1-9999", VIEW, "120"),
    _p("format", MOGR["format"].check, MOGR["format"].expected, VIEW, "png", "webp"),
    _p("q", _QUALITY, "0-100, optionally followed by '!'", VIEW, "80", "80!"),
    _p("rq", in_range(0, 100), "0-100", VIEW, "50"),
    _p("lq", in_range(0, 100), "0-100", VIEW, "50"),
    _p("interlace", one_of("0", "1"), "0 or 1", VIEW, "1"),
    _p("ignore-error", one_of("1"), "1", VIEW, "1"),
)}

WATERMARK_TYPES = {"1": "image", "2": "text", "3": "blind"}
WATERMARK_PARAMS: dict[str, Param] = {p.name: p for p in (
    _p("image", base64url, "URL-safe base64 of the watermark image's COS URL", WATERMARK, "aHR0cA"),
    _p("text", lambda v: bool(b64_decoded(v)), "URL-safe base64 of UTF-8 text", WATERMARK, "Q09T"),
    _p("font", base64url, "URL-safe base64 of a font name", WATERMARK, "c2ltaGVp"),
    _p("fill", b64_color, "URL-safe base64 of #RRGGBB", WATERMARK, "IzAwMDBGRg"),
    _p("fontsize", in_range(1, 1000), "a size 1-1000", WATERMARK, "24"),
    _p("dissolve", in_range(1, 100), "an opacity 1-100", WATERMARK, "90"),
    _p("gravity", one_of(*GRAVITIES), "one of " + ", ".join(GRAVITIES), WATERMARK, "center"),
    _p("dx", in_range(0, MAX_INPUT_SIDE), "an offset in pixels", WATERMARK, "10"),
    _p("dy", in_range(0, MAX_INPUT_SIDE), "an offset in pixels", WATERMARK, "10"),
    _p("batch", one_of("0", "1"), "0 or 1", WATERMARK, "0"),
    _p("degree", in_range(0, 360), "an angle 0-360", WATERMARK, "0"),
    _p("shadow", in_range(0, 100), "0-100", WATERMARK, "0"),
    _p("scatype", in_range(1, 3), "1-3", WATERMARK, "1"),
    _p("spcent", in_range(1, 1000), "1-1000", WATERMARK, "10"),
    _p("type", in_range(1, 3), "1-3 (blind watermark kind)", WATERMARK, "3"),
)}
WATERMARK_LOCAL = {"1": (Local.REFUSED, "watermark/1 (image watermark) is not emulated by the local server"),
                   "2": (Local.APPROXIMATED, "text drawn with Pillow's built-in font"),
                   "3": (Local.APPROXIMATED, "blind watermark: the pixels are re-encoded, no mark is embedded")}


@dataclass(frozen=True)
class AiOperation:
    """An AI operation that produces an image (``ci-process=<name>&...``)."""

    name: str
    params: dict[str, Param]
    required: tuple[str, ...] = ()
    local: Local = Local.APPROXIMATED
    note: str = ""


_MATTING = {p.name: p for p in (
    _p("center-layout", one_of("0", "1"), "0 or 1", AI, "1"),
    _p("padding-layout", numbers_in(r"[0-9]+x[0-9]+", 0, 1000), "DXxDY (0-1000 px each)", GOODS_MATTING, "20x10"),
)}
AI_OPS: dict[str, AiOperation] = {op.name: op for op in (
    AiOperation("AISuperResolution",
                {"magnify": _p("magnify", one_of("2", "4"), "2 or 4", SUPER_RESOLUTION, "2", "4")}),
    AiOperation("AIImageColoring", {}),
    AiOperation("AIEnhanceImage", {p.name: p for p in (
        _p("denoise", in_range(0, 5), "0-5", AI, "3"), _p("sharpen", in_range(0, 5), "0-5", AI, "3"))}),
    AiOperation("AIImageCrop", {p.name: p for p in (
        _p("width", in_range(1, MAX_OUTPUT_SIDE), "pixels 1-9999", AI, "300"),
        _p("height", in_range(1, MAX_OUTPUT_SIDE), "pixels 1-9999", AI, "200"),
        _p("fixed", one_of("0", "1"), "0 or 1", AI, "1"))}, ("width", "height")),
    AiOperation("AIPicMatting", dict(_MATTING)),
    AiOperation("AIPortraitMatting", dict(_MATTING)),
    AiOperation("GoodsMatting", dict(_MATTING)),
    AiOperation("ImageRepair", {p.name: p for p in (
        _p("MaskPic", base64url, "URL-safe base64", AI, "aHR0cA"),
        _p("MaskPoly", base64url, "URL-safe base64", AI, "W1tdXQ"))},
        local=Local.REFUSED, note="ci-process=ImageRepair is not emulated by the local server"),
)}
# recognition operations answer with JSON, not an image: not usable as outputs
RECOGNITION = ("face-effect", "AILicenseRec", "AIGameRec", "AIBodyRecognition", "DetectLabel", "AssessQuality",
               "detect-car", "RecognizeLogo", "AIDetectFace", "AIDetectPet", "AIFaceEffect", "DetectFace")
# a style name; `.` and `..` are refused: a download URL `key/<style>` would name the key's folder or its parent
STYLE_NAME = re.compile(r"(?!\.\.?\Z)[A-Za-z0-9_.-]{1,64}")


def example_rules() -> list[str]:
    """One rule per example value of the table: what the agreement test runs through validate and the server."""
    rules: list[str] = []
    for p in MOGR.values():
        for value in p.examples:
            rules.append(f"imageMogr2/{p.name}" + (f"/{value}" if p.check is not None else ""))
    for p in VIEW_PARAMS.values():
        for value in p.examples:
            rules.append(f"imageView2/2/w/200/{p.name}/{value}" if p.name != "w" else f"imageView2/2/w/{value}")
    rules += ["imageView2/format/png", "imageView2/1/w/100/h/100"]
    rules += ["watermark/2/text/Q09T/fontsize/24/gravity/center", "watermark/3/type/3/text/Q09T",
              "watermark/1/image/aHR0cA/gravity/southeast", "imageSlim", "style/thumb"]
    for op in AI_OPS.values():
        params = [(p.name, p.examples[0]) for p in op.params.values() if p.examples]
        rules.append("&".join([f"ci-process={op.name}", *(f"{k}={v}" for k, v in params)]))
    return rules
