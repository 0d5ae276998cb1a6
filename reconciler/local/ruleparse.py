"""Parse Cloud Infinite processing rules into steps the local server's imaging module runs. Pure, no Pillow.

A rule is operations joined by ``|`` (at most 10): ``imageMogr2/<name>/<arg>/...``, ``imageView2/<mode>/...``
or ``ci-process=<AIName>&param=value``. Every problem raises ``RuleError`` naming the bad part, which the
server answers with 400 InvalidArgument. The geometry helpers compute output sizes the way COS documents them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_OPERATIONS = 10
MAX_SIDE = 50_000
MAX_PIXELS = 250_000_000
FORMATS = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "apng": "png", "bmp": "bmp", "webp": "webp",
           "tiff": "tiff", "gif": "gif", "avif": "avif"}
UNSUPPORTED_FORMATS = {"heif", "heic", "tpg"}
GRAVITIES = {"northwest", "north", "northeast", "west", "center", "east", "southwest", "south", "southeast"}
AI_PARAMETERS = {"AISuperResolution": {"magnify"}, "AIImageColoring": set(), "AIEnhanceImage": {"denoise", "sharpen"},
                 "AIImageCrop": {"width", "height", "fixed"}, "AIPicMatting": {"center-layout", "padding-layout"},
                 "AIPortraitMatting": {"center-layout", "padding-layout"},
                 "GoodsMatting": {"center-layout", "padding-layout"}}  # what each takes (cos-notes.md)
AI_OPERATIONS = set(AI_PARAMETERS)
_NOARG = {"strip", "auto-orient"}
_WITHARG = {"thumbnail", "crop", "cut", "gravity", "dx", "dy", "rotate", "flip", "format", "quality", "rquality",
            "lquality", "interlace", "blur", "grayscale", "bright", "contrast", "sharpen", "size-limit",
            "ignore-error", "iradius", "rradius", "scrop"}
_GEOMETRY = re.compile(
    r"^(?:!(?P<pct>\d+)p|!(?P<wpct>\d+)px|!x(?P<hpct>\d+)p|(?P<area>\d+)@|!(?P<rw>\d+)x(?P<rh>\d+)r"
    r"|(?P<w>\d+)?x(?P<h>\d+)?(?P<mod>[!<>])?)$")


class RuleError(ValueError):
    """A rule the local server rejects (400 InvalidArgument); the message names the bad part."""


@dataclass(frozen=True)
class Step:
    """One operation: a name (``thumbnail``, ``crop``, ``imageView2``, an AI name, ...) and its parameters."""

    name: str
    params: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.params if k == name), default)


@dataclass(frozen=True)
class Pipeline:
    """A parsed rule: the steps in order, plus output settings (last one wins)."""

    steps: tuple[Step, ...]
    format: str = ""
    quality: int = 0
    strip: bool = False
    interlace: bool = False


def _int(text: str, what: str, lo: int, hi: int) -> int:
    if not re.fullmatch(r"-?\d+", text):
        raise RuleError(f"{what}: {text!r} is not an integer")
    value = int(text)
    if not lo <= value <= hi:
        raise RuleError(f"{what}: {value} is outside {lo}..{hi}")
    return value


def parse_rule(rule: str) -> Pipeline:
    """Parse a whole rule; raises RuleError."""
    rule = rule.strip()
    if not rule:
        raise RuleError("the rule is empty")
    if rule.startswith("style/"):
        raise RuleError(f"{rule!r}: image styles are not supported by the local server")
    segments = rule.split("|")
    if len(segments) > MAX_OPERATIONS:
        raise RuleError(f"{len(segments)} operations joined by '|' (at most {MAX_OPERATIONS})")
    steps: list[Step] = []
    out: dict[str, Any] = {"format": "", "quality": 0, "strip": False, "interlace": False}
    for segment in segments:
        segment = segment.rstrip("/") if not segment.startswith("ci-process=") else segment
        if segment.startswith("imageMogr2/"):
            steps.extend(_mogr2(segment, out))
        elif segment.startswith("imageView2/"):
            steps.append(_view2(segment, out))
        elif segment.startswith("ci-process="):
            steps.append(_ai(segment))
        elif segment.startswith("watermark/2/"):
            steps.append(_text_watermark(segment))
        elif segment.startswith("watermark/"):
            raise RuleError(f"{segment!r}: only text watermarks (watermark/2) are supported by the local server")
        else:
            raise RuleError(f"unknown operation {segment.split('/')[0]!r} in {segment!r}")
    return Pipeline(tuple(steps), str(out["format"]), int(out["quality"]), bool(out["strip"]),
                    bool(out["interlace"]))


def _format(value: str, where: str) -> str:
    if value in UNSUPPORTED_FORMATS:
        raise RuleError(f"{where}: format/{value} is not supported by the local server")
    if value not in FORMATS:
        raise RuleError(f"{where}: unknown format {value!r}")
    return FORMATS[value]


def _mogr2(segment: str, out: dict[str, Any]) -> list[Step]:
    tokens = segment.split("/")[1:]
    steps: list[Step] = []
    i = 0
    crop_index = -1
    while i < len(tokens):
        name = tokens[i]
        if name in _NOARG:
            if name == "strip":
                out["strip"] = True
            else:
                steps.append(Step("auto-orient"))
            i += 1
            continue
        if name not in _WITHARG:
            raise RuleError(f"imageMogr2: unknown parameter {name!r} in {segment!r}")
        if i + 1 >= len(tokens) or tokens[i + 1] == "":
            raise RuleError(f"imageMogr2/{name}: missing value in {segment!r}")
        arg = tokens[i + 1]
        i += 2
        where = f"imageMogr2/{name}/{arg}"
        if name == "thumbnail":
            geometry(arg)  # validate now
            steps.append(Step("thumbnail", (("geometry", arg),)))
        elif name == "scrop":
            if not re.fullmatch(r"\d+x\d+", arg):
                raise RuleError(f"{where}: expected WxH")
            steps.append(Step("scrop", (("size", arg),)))
        elif name == "crop":
            if not re.fullmatch(r"\d+x|x\d+|\d+x\d+", arg):
                raise RuleError(f"{where}: expected Wx, xH or WxH")
            crop_index = len(steps)
            steps.append(Step("crop", (("size", arg), ("gravity", "northwest"))))
        elif name == "cut":
            if not re.fullmatch(r"\d+x\d+x\d+x\d+", arg):
                raise RuleError(f"{where}: expected WxHxDXxDY")
            steps.append(Step("cut", (("spec", arg),)))
        elif name in ("gravity", "dx", "dy"):
            if name == "gravity" and arg not in GRAVITIES:
                raise RuleError(f"{where}: unknown gravity (one of {', '.join(sorted(GRAVITIES))})")
            if name != "gravity":
                _int(arg, where, -MAX_SIDE, MAX_SIDE)
            if crop_index < 0:
                raise RuleError(f"{where}: only meaningful after crop")
            old = steps[crop_index]
            steps[crop_index] = Step("crop", tuple(p for p in old.params if p[0] != name) + ((name, arg),))
        elif name == "rotate":
            steps.append(Step("rotate", (("degrees", str(_int(arg, where, 0, 360))),)))
        elif name == "flip":
            if arg not in ("vertical", "horizontal"):
                raise RuleError(f"{where}: expected vertical or horizontal")
            steps.append(Step("flip", (("axis", arg),)))
        elif name == "format":
            out["format"] = _format(arg, where)
        elif name in ("quality", "rquality", "lquality"):
            out["quality"] = _int(arg.rstrip("!"), where, 1, 100)
        elif name == "interlace":
            out["interlace"] = _int(arg, where, 0, 1) == 1
        elif name == "blur":
            match = re.fullmatch(r"(\d+)x(\d+)", arg)
            if not match or not (1 <= int(match[1]) <= 50 and 1 <= int(match[2]) <= 50):
                raise RuleError(f"{where}: expected RxS with radius and sigma 1..50")
            steps.append(Step("blur", (("sigma", match[2]),)))
        elif name == "grayscale":
            if _int(arg, where, 0, 1):
                steps.append(Step("grayscale"))
        elif name in ("bright", "contrast"):
            steps.append(Step(name, (("value", str(_int(arg, where, -100, 100))),)))
        elif name == "sharpen":
            steps.append(Step("sharpen", (("value", str(_int(arg, where, 10, 300))),)))
        elif name in ("iradius", "rradius"):
            steps.append(Step(name, (("radius", str(_int(arg, where, 1, MAX_SIDE))),)))
        elif name == "size-limit":
            if not re.fullmatch(r"\d+[km]!?", arg):
                raise RuleError(f"{where}: expected N followed by k or m")
        elif name == "ignore-error":
            _int(arg, where, 0, 1)
    return steps


def _view2(segment: str, out: dict[str, Any]) -> Step:
    tokens = segment.split("/")[1:]
    if not tokens:
        raise RuleError(f"{segment!r}: imageView2 needs a mode 0-5")
    mode = _int(tokens[0], f"imageView2/{tokens[0]}", 0, 5)
    params = [("mode", str(mode))]
    rest = tokens[1:]
    if len(rest) % 2:
        raise RuleError(f"{segment!r}: parameters must come in name/value pairs")
    for name, value in zip(rest[::2], rest[1::2]):
        where = f"imageView2/{name}/{value}"
        if name in ("w", "h"):
            params.append((name, str(_int(value, where, 1, MAX_SIDE))))
        elif name == "format":
            out["format"] = _format(value, where)
        elif name in ("q", "quality", "rq", "lq"):
            out["quality"] = _int(value.rstrip("!"), where, 1, 100)
        elif name == "ignore-error":
            _int(value, where, 0, 1)
        else:
            raise RuleError(f"imageView2: unknown parameter {name!r} in {segment!r}")
    if not any(k in ("w", "h") for k, _ in params):
        raise RuleError(f"{segment!r}: imageView2 needs w or h")
    return Step("imageView2", tuple(params))


def b64_text(value: str, where: str) -> str:
    """Decode a URL-safe base64 parameter (padding optional), as CI's watermark fields are written."""
    import base64
    import binascii

    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise RuleError(f"{where}: not URL-safe base64 of UTF-8 text") from None


def _text_watermark(segment: str) -> Step:
    rest = segment.split("/")[2:]
    if len(rest) % 2:
        raise RuleError(f"{segment!r}: parameters must come in name/value pairs")
    params = dict(zip(rest[::2], rest[1::2]))
    if "text" not in params:
        raise RuleError(f"{segment!r}: watermark/2 needs text")
    for name, value in params.items():
        where = f"watermark/2/{name}/{value}"
        if name in ("text", "font", "fill", "shadow"):
            b64_text(value, where)
        elif name == "fontsize":
            _int(value, where, 1, 1000)
        elif name == "dissolve":
            _int(value, where, 1, 100)
        elif name in ("dx", "dy"):
            _int(value, where, 0, MAX_SIDE)
        elif name == "gravity":
            if value not in GRAVITIES:
                raise RuleError(f"{where}: unknown gravity")
        elif name not in ("batch", "degree"):
            raise RuleError(f"watermark/2: unknown parameter {name!r} in {segment!r}")
    if "fill" in params and not re.fullmatch(r"#[0-9A-Fa-f]{6}", b64_text(params["fill"], "fill")):
        raise RuleError("watermark/2/fill: expected base64 of #RRGGBB")
    return Step("watermark", tuple(params.items()))


def _ai(segment: str) -> Step:
    pairs = [p.partition("=") for p in segment.split("&")]
    name = pairs[0][2]
    if name not in AI_OPERATIONS:
        raise RuleError(f"ci-process={name}: not an image-producing operation the local server supports "
                        f"(one of {', '.join(sorted(AI_OPERATIONS))})")
    params = tuple((k, v) for k, _, v in pairs[1:])
    unknown = sorted({k for k, _ in params} - AI_PARAMETERS[name])
    if unknown:
        raise RuleError(f"ci-process={name} takes no parameter {unknown[0]!r}")
    step = Step(name, params)
    if name == "AISuperResolution" and step.get("magnify", "2") not in ("1", "2", "4"):
        raise RuleError(f"{segment!r}: magnify must be 1, 2 or 4")
    if name == "AIEnhanceImage":
        for knob in ("denoise", "sharpen"):
            _int(step.get(knob, "0"), f"{segment}: {knob}", 0, 5)
    if name == "AIImageCrop":
        if not step.get("width") or not step.get("height"):
            raise RuleError(f"{segment!r}: AIImageCrop needs width and height")
        _int(step.get("width"), f"{segment}: width", 1, MAX_SIDE)
        _int(step.get("height"), f"{segment}: height", 1, MAX_SIDE)
        _int(step.get("fixed", "0"), f"{segment}: fixed", 0, 1)
    if name.endswith("Matting") and step.get("center-layout", "0") not in ("0", "1"):
        raise RuleError(f"{segment!r}: center-layout must be 0 or 1")
    return step


def geometry(spec: str) -> re.Match[str]:
    match = _GEOMETRY.fullmatch(spec)
    if match is None or spec in ("x", "") or (match["w"] is None and match["h"] is None and match["pct"] is None
                                              and match["wpct"] is None and match["hpct"] is None
                                              and match["area"] is None and match["rw"] is None):
        raise RuleError(f"thumbnail/{spec}: not a thumbnail geometry (!Np, !Npx, !xNp, Wx, xH, WxH, WxH>, "
                        f"WxH<, !WxHr, WxH!, Area@)")
    return match


def thumbnail_size(spec: str, width: int, height: int) -> tuple[int, int]:
    """The output size of ``thumbnail/<spec>`` for a width x height input."""
    m = geometry(spec)
    ratio = width / height
    if m["pct"]:
        f = int(m["pct"]) / 100
        return _checked(width * f, height * f)
    if m["wpct"]:
        return _checked(width * int(m["wpct"]) / 100, height)
    if m["hpct"]:
        return _checked(width, height * int(m["hpct"]) / 100)
    if m["area"]:
        scale = (int(m["area"]) / (width * height)) ** 0.5
        return _checked(width * scale, height * scale) if scale < 1 else (width, height)
    if m["rw"]:
        scale = max(int(m["rw"]) / width, int(m["rh"]) / height)
        return _checked(width * scale, height * scale)
    w, h, mod = m["w"], m["h"], m["mod"]
    if w and h:
        tw, th = int(w), int(h)
        if mod == "!":
            return _checked(tw, th)
        scale = min(tw / width, th / height)
    elif w:
        scale = int(w) / width
    else:
        scale = int(h) / height
    if (mod == ">" and scale >= 1) or (mod == "<" and scale <= 1):
        return width, height
    if w and not h:
        return _checked(int(w), int(w) / ratio)
    if h and not w:
        return _checked(int(h) * ratio, int(h))
    return _checked(width * scale, height * scale)


def view2_size(step: Step, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """imageView2: (scaled size, crop box size or None)."""
    mode = int(step.get("mode"))
    w, h = int(step.get("w", "0")), int(step.get("h", "0"))
    if mode in (0, 4, 5):  # w/h mean long edge / short edge
        landscape = width >= height
        long_, short = w, h
        if mode != 0 and not short:
            short = long_
        if mode != 0 and not long_:
            long_ = short
        w, h = (long_, short) if landscape else (short, long_)
    if mode in (1, 3, 5):  # one of w/h given: both sides take that value (a square box)
        w, h = w or h, h or w
    if mode in (1, 5):
        scale = max(w / width, h / height)
        return _checked(width * scale, height * scale), (w, h)
    if mode in (3, 4):
        scale = max(w / width if w else 0, h / height if h else 0)
        return _checked(width * scale, height * scale), None
    scale = min(w / width if w else float("inf"), h / height if h else float("inf"))
    scale = min(scale, 1.0)  # modes 0 and 2 limit the size: they never enlarge
    return _checked(width * scale, height * scale), None


def _checked(w: float, h: float) -> tuple[int, int]:
    iw, ih = max(1, round(w)), max(1, round(h))
    if iw > MAX_SIDE or ih > MAX_SIDE or iw * ih > MAX_PIXELS:
        raise RuleError(f"the output would be {iw}x{ih}: over the limits ({MAX_SIDE} px a side, "
                        f"{MAX_PIXELS} pixels)")
    return iw, ih
