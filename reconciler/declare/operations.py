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
BLUR = DOCS + "33718"  # blur/<radius>x<sigma>: radius 1-50, sigma greater than 0
SHARPEN = DOCS + "33719"
BRIGHT = DOCS + "40647"  # bright: an integer -100..100
CONTRAST = DOCS + "40648"
GRAYSCALE = DOCS + "48829"
STRIP = DOCS + "33725"  # Removing Image Metadata
VIEW = DOCS + "33726"  # Quick Thumbnail Template (imageView2): modes 1-5
TEXT_WATERMARK = DOCS + "33721"
STYLES = "https://cloud.tencent.com/document/api/436/119416"  # Add Style (PUT /?style on the pic host), QPS 1
COMPRESSION = "https://cloud.tencent.com/document/product/436/42215"  # AVIF/HEIF/TPG need advanced compression
# Ids NOT confirmed in this session (the pages were not read): the neighbouring id of the text watermark page for
# the image and blind watermarks, and the persistent-processing page for imageSlim and the AI operations whose own
# pages were not found. docs/local-server.md lists them; a row must still cite a numeric page id (tested).
WATERMARK = DOCS + "33720"
SLIM = PERSISTENT
AI = PERSISTENT
UNCONFIRMED_PAGES = frozenset({WATERMARK, PERSISTENT})
SUPER_RESOLUTION = "https://cloud.tencent.com/document/product/460/109091"  # magnify: default 2, [2,4], even only
GOODS_MATTING = "https://cloud.tencent.com/document/product/460/109643"  # padding-layout: dx, dy at most 1000 px

LIMITS = "https://cloud.tencent.com/document/product/460/36620"  # limits page, updated 2026-01-12

MAX_OPERATIONS = 10  # operations joined by '|' in one rule (PERSISTENT)
# The limits page (LIMITS, 2026-01-12) supersedes the older pages' 9,999 px (1045/33713) and 30,000 px:
MAX_PARAM_SIDE = 10_000  # a width or height PARAMETER over this is processed as this: clamped, never refused
MAX_OUTPUT_SIDE = 50_000  # a result's side
MAX_WEBP_SIDE = 16_383  # a WebP result's side
MAX_OUTPUT_PIXELS = 250_000_000  # a result's pixels
MAX_INPUT_SIDE = 50_000
MAX_INPUT_PIXELS = 250_000_000
MAX_NUMBER = 999_999_999  # the largest value of 9 digits: what a clamped parameter may say
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


def double_in(lo: float, hi: float) -> Check:
    """A Double (ASCII digits, at most 9 before and 6 after the point) in (lo, hi]."""
    def check(value: str) -> bool:
        return re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,6})?", value) is not None and lo < float(value) <= hi

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
                    r"|!(?P<rw>[0-9]{1,9})x(?P<rh>[0-9]{1,9})r|(?P<w>[0-9]{1,9})?x(?P<h>[0-9]{1,9})?(?P<mod>[!<>])?")


def thumbnail_match(value: str) -> re.Match[str] | None:
    """The parsed ``thumbnail`` geometry (SCALING), or None: percentages 1-1000, sides from 1 (over 10,000
    processed as 10,000, LIMITS)."""
    m = _THUMB.fullmatch(value)
    if m is None or value in ("x", "x!", "x<", "x>"):
        return None
    for name in ("pct", "wpct", "hpct"):
        if m[name] is not None and not 0 < float(m[name]) <= 1000:
            return None
    for name in ("rw", "rh", "w", "h"):  # over MAX_PARAM_SIDE: processed as MAX_PARAM_SIDE (LIMITS)
        if m[name] is not None and not 1 <= int(m[name]):
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


def _blur(value: str) -> bool:
    """``<radius>x<sigma>`` (BLUR): radius an integer 1-50, sigma a number greater than 0."""
    m = re.fullmatch(r"([0-9]{1,2})x([0-9]{1,9}(?:\.[0-9]{1,6})?)", value)
    return m is not None and 1 <= int(m[1]) <= 50 and float(m[2]) > 0
_SIZE = numbers_in(r"[0-9]+x|x[0-9]+|[0-9]+x[0-9]+", 1, MAX_NUMBER)
_SIDES = "from 1; over 10,000 processed as 10,000"
_THUMB_FORMS = (f"!Np, !Npx, !xNp (N 1-1000, up to 2 decimals), Wx, xH, WxH, WxH>, WxH<, WxH!, !WxHr (sides {_SIDES}), "
                "Area@")

MOGR: dict[str, Param] = {p.name: p for p in (
    _p("thumbnail", lambda v: thumbnail_match(v) is not None, f"one of the forms {_THUMB_FORMS}", SCALING,
       "!50p", "!50.5p", "!50px", "!x50p", "200x", "x120", "200x150", "200x150>", "200x150<", "200x150!",
       "!200x200r", "40000@", "10000x", "12000x"),
    _p("pad", one_of("0", "1"), "0 or 1", SCALING, "1"),
    _p("color", b64_color, "URL-safe base64 of #RRGGBB", SCALING, "I0ZGMDAwMA"),
    _p("cut", numbers_in(r"[1-9][0-9]*x[1-9][0-9]*x[0-9]+x[0-9]+", 0, MAX_NUMBER),
       f"WxHxDXxDY (W, H {_SIDES}; DX, DY from 0)", CROPPING,
       "100x50x10x10"),
    _p("crop", _SIZE, f"Wx, xH or WxH ({_SIDES})", CROPPING, "300x200", "300x", "x200", "12000x"),
    _p("gravity", one_of(*GRAVITIES), "one of " + ", ".join(GRAVITIES), CROPPING, "center", "southeast"),
    _p("dx", in_range(-MAX_INPUT_SIDE, MAX_INPUT_SIDE), "an integer offset", CROPPING, "10"),
    _p("dy", in_range(-MAX_INPUT_SIDE, MAX_INPUT_SIDE), "an integer offset", CROPPING, "10"),
    _p("iradius", in_range(1, 9_999), "a radius 1-9999 (not for GIF)", CROPPING, "100"),
    _p("rradius", in_range(1, 9_999), "a radius 1-9999 (not for GIF)", CROPPING, "20"),
    _p("scrop", numbers_in(r"[0-9]+x[0-9]+", 1, MAX_NUMBER), f"WxH ({_SIDES})", CROPPING, "200x100"),
    _p("rcrop", _SIZE, f"Wx, xH or WxH ({_SIDES})", CROPPING, "100x", "100x50", local=Local.APPROXIMATED,
       note="rcrop is approximated as a crop of that size at the operation's gravity"),
    _p("rotate", in_range(0, 360), "an angle 0-360", ROTATION, "90", "45", "0", "360"),
    _p("auto-orient", None, "no value", ROTATION, ""),
    _p("flip", one_of("vertical", "horizontal"), "vertical or horizontal", ROTATION, "vertical", "horizontal"),
    _p("format", one_of(*FORMATS), "one of " + ", ".join(FORMATS), FORMAT,
       "png", "webp", "jpg", "jpeg", "yjpeg", "gif", "bmp", "tiff", "avif", "apng", "heif", "heic", "tpg"),
    _p("cgif", in_range(1, 100), "a frame count 1-100 (1: the default 30 frames)", FORMAT, "10", "1"),
    _p("egif", in_range(1, MAX_NUMBER), "a GIF frame interval (a positive integer; unit not confirmed)", FORMAT,
       "10", local=Local.REFUSED, note="egif (GIF frame interval) is not emulated by the local server"),
    _p("interlace", one_of("0", "1"), "0 or 1", PROGRESSIVE, "1", "0"),
    _p("minisize", one_of("0", "1"), "0 or 1", FORMAT, "1"),
    _p("quality", _QUALITY, "0-100, optionally followed by '!'", QUALITY, "85", "95!", "0", "100"),
    _p("rquality", in_range(0, 100), "0-100", QUALITY, "50"),
    _p("lquality", in_range(0, 100), "0-100", QUALITY, "50"),
    _p("strip", None, "no value", STRIP, ""),
    _p("blur", _blur, "RxS: radius 1-50, sigma greater than 0", BLUR, "3x2", "8x5", "8x60", "2x0.5",
       local=Local.APPROXIMATED, note="a Gaussian blur of sigma min(S, R): the radius bounds the kernel"),
    _p("bright", in_range(-100, 100), "-100 to 100", BRIGHT, "10", "-20"),
    _p("contrast", in_range(-100, 100), "-100 to 100", CONTRAST, "30", "-10"),
    _p("sharpen", in_range(10, 300), "an amount 10-300", SHARPEN, "70"),
    _p("grayscale", one_of("0", "1"), "0 or 1", GRAYSCALE, "1"),
    _p("size-limit", numbers_in(r"[0-9]+[km]!?", 1, 32 * 1024), "N followed by k or m, optionally '!'", SIZE_LIMIT,
       "15k!", "5k", "1m"),
    _p("ignore-error", one_of("1"), "1", CROPPING, "1"),
)}
FORMAT_NOTES = {"heif": "format/heif", "heic": "format/heic", "tpg": "format/tpg"}  # no local encoder

VIEW_MODES = ("1", "2", "3", "4", "5")  # VIEW documents modes 1-5 (mode 0 is another vendor's API)
VIEW_FORMATS = ("jpg", "bmp", "gif", "png", "webp")  # VIEW's format list
VIEW_PARAMS: dict[str, Param] = {p.name: p for p in (
    _p("w", in_range(1, MAX_NUMBER), f"a width {_SIDES}", VIEW, "320", "12000"),
    _p("h", in_range(1, MAX_NUMBER), f"a height {_SIDES}", VIEW, "120"),
    _p("format", one_of(*VIEW_FORMATS), "one of " + ", ".join(VIEW_FORMATS), VIEW, "png", "webp", "jpg", "bmp", "gif"),
    _p("q", _QUALITY, "0-100, optionally followed by '!'", VIEW, "80", "80!"),
    _p("rq", in_range(0, 100), "0-100", VIEW, "50"),
    _p("lq", in_range(0, 100), "0-100", VIEW, "50"),
    _p("interlace", one_of("0", "1"), "0 or 1", VIEW, "1"),
    _p("ignore-error", one_of("1"), "1", VIEW, "1"),
)}

WATERMARK_TYPES = {"1": "image", "2": "text", "3": "blind"}
WATERMARK_PARAMS: dict[str, Param] = {p.name: p for p in (
    _p("image", base64url, "URL-safe base64 of the watermark image's COS URL", WATERMARK, "aHR0cA"),
    _p("text", lambda v: bool(b64_decoded(v)), "URL-safe base64 of UTF-8 text", TEXT_WATERMARK, "Q09T"),
    _p("font", base64url, "URL-safe base64 of a font name", TEXT_WATERMARK, "c2ltaGVp"),
    _p("fill", b64_color, "URL-safe base64 of #RRGGBB", TEXT_WATERMARK, "IzAwMDBGRg"),
    _p("fontsize", in_range(1, 1000), "a size 1-1000", TEXT_WATERMARK, "24"),
    _p("dissolve", in_range(1, 100), "an opacity 1-100", TEXT_WATERMARK, "90"),
    _p("gravity", one_of(*GRAVITIES), "one of " + ", ".join(GRAVITIES), TEXT_WATERMARK, "center"),
    _p("dx", in_range(0, MAX_INPUT_SIDE), "an offset in pixels", TEXT_WATERMARK, "10"),
    _p("dy", in_range(0, MAX_INPUT_SIDE), "an offset in pixels", TEXT_WATERMARK, "10"),
    _p("batch", one_of("0", "1"), "0 or 1", TEXT_WATERMARK, "0"),
    _p("degree", in_range(0, 360), "an angle 0-360", TEXT_WATERMARK, "0"),
    _p("shadow", in_range(0, 100), "0-100", TEXT_WATERMARK, "0"),
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
        _p("denoise", in_range(0, 5), "0-5", AI, "3"), _p("sharpen", in_range(0, 5), "0-5", AI, "3"),
        _p("ignore-error", one_of("1"), "1: the original on failure", AI, "1"))}),
    AiOperation("AIImageCrop", {p.name: p for p in (
        _p("width", double_in(0, 9999), "a Double, pixels over 0 up to 9999", AI, "300", "300.5"),
        _p("height", double_in(0, 9999), "a Double, pixels over 0 up to 9999", AI, "200"),
        _p("fixed", one_of("0", "1"), "0 or 1", AI, "1"),
        _p("ignore-error", one_of("1"), "1: the original on failure", AI, "1"))}, ("width", "height")),
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
STYLE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


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
