"""Turn a Cloud Infinite rule into the steps the local server's imaging module runs. Pure, no Pillow.

The grammar is not here: ``declare.rules.parse_rule`` (driven by the table in ``declare.operations``) parses and
validates, exactly as ``cosrecon validate`` does; this module maps each parsed operation to steps, expands
``style/<name>`` from the bucket's styles, and refuses precisely what the server does not emulate (the table's
``REFUSED`` rows). The size helpers compute each step's output size BEFORE anything is allocated, so a rule
whose intermediate image would exceed the limits is refused without being run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from reconciler.declare import operations as ops
from reconciler.declare import rules
from reconciler.declare.ci_errors import Culprit

MAX_SIDE = ops.MAX_OUTPUT_SIDE
MAX_INPUT_SIDE = ops.MAX_INPUT_SIDE
MAX_PIXELS = ops.MAX_INPUT_PIXELS


def clamp_side(value: str | int) -> int:
    """A width or height parameter as CI processes it: over 10,000 it is 10,000 (limits page 460/36620)."""
    return min(int(value), ops.MAX_PARAM_SIDE)
# Not a CI limit: the local server decodes at most this many pixels (all frames) per request, and no step may
# produce more, so one request stays within a few hundred MB (AISuperResolution x4 of 1920x1080, 33 Mpx, fits).
# CI itself accepts up to 250 Mpx; the server refuses more than this saying so.
LOCAL_MAX_PIXELS = 40_000_000


class RuleError(ValueError):
    """A request the local server refuses as CI would; the message names the bad part. ``culprit`` picks CI's
    numeric code (``declare.ci_errors``): an invalid rule (-60998) unless a subclass says otherwise."""

    culprit = Culprit.RULE


class LimitExceeded(RuleError):
    """Over one of CI's documented size limits (-60996); ``ignore-error/1`` returns the original instead."""

    culprit = Culprit.LIMIT


class TooManyRules(RuleError):
    """More than five rules in one Pic-Operations (-60997)."""

    culprit = Culprit.TOO_MANY_RULES


class StyleMissing(RuleError):
    """``style/<name>`` names a style the bucket does not have (-60967)."""

    culprit = Culprit.STYLE


class NotEmulated(RuleError):
    """A rule Cloud Infinite accepts but the local server does not produce, or a request over the local server's
    own resource bound: 501 NotImplemented, saying so (never a cloud-looking 400)."""

    culprit = Culprit.NOT_EMULATED


@dataclass(frozen=True)
class Step:
    """One operation: a name (``thumbnail``, ``crop``, ``imageView2``, an AI name, ...) and its parameters."""

    name: str
    params: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.params if k == name), default)


@dataclass(frozen=True)
class Pipeline:
    """A parsed rule: the steps in order, plus output settings (the last one given wins)."""

    steps: tuple[Step, ...]
    format: str = ""
    quality_mode: str = ""  # "", "quality", "force", "rquality", "lquality"
    quality: int = 0
    strip: bool = False
    interlace: bool = False
    size_limit: int = 0  # bytes; 0: none
    size_limit_smaller: bool = False  # size-limit/...! returns the original when it is smaller
    ignore_error: bool = False
    frames: int = 0  # cgif/N: keep at most N frames (N=1 means the default 30)
    minisize: bool = False
    slim: bool = False
    notes: tuple[str, ...] = field(default=())
    advanced_compression: bool = True  # the bucket has image advanced compression (AVIF/HEIF/TPG output, 436/42215)


def parse_rule(rule: str, styles: Mapping[str, str] | None = None, *, advanced_compression: bool = True) -> Pipeline:
    """Parse a rule as validate does, then build its pipeline; raises RuleError (NotEmulated for what the
    server does not produce). ``styles`` maps the bucket's style names to their definitions;
    ``advanced_compression`` whether the bucket has it (else AVIF/HEIF/HEIC/TPG output is refused)."""
    if any(ch.isspace() for ch in rule):
        raise RuleError("the rule contains whitespace (send the normalised rule)")
    try:
        parsed = rules.parse_rule(rule)
    except rules.RuleError as exc:
        raise RuleError(str(exc)) from None
    if parsed.operations[0].processor == "style":
        name = parsed.operations[0].mode
        definition = (styles or {}).get(name)
        if definition is None:
            raise StyleMissing(f"style/{name}: the bucket has no image style named {name!r}")
        if definition.startswith("style/"):
            raise RuleError(f"style/{name}: a style cannot refer to another style")
        return parse_rule(definition, None, advanced_compression=advanced_compression)
    pipeline = Pipeline((), advanced_compression=advanced_compression)
    for op in parsed.operations:
        pipeline = _add(pipeline, op)
    return pipeline


def _add(p: Pipeline, op: rules.Operation) -> Pipeline:
    if op.processor == "imageMogr2":
        return _mogr(p, op.params)
    if op.processor == "imageView2":
        return _view(p, op)
    if op.processor == "watermark":
        local, note = ops.WATERMARK_LOCAL[op.mode]
        if local is ops.Local.REFUSED:
            raise NotEmulated(note)
        step = Step("watermark" if op.mode == "2" else "blind-watermark", op.params)
        return replace(p, steps=p.steps + (step,))
    if op.processor in ("imageSlim", "imageslim"):
        return replace(p, slim=True)
    ai = ops.AI_OPS[op.mode]
    if ai.local is ops.Local.REFUSED:
        raise NotEmulated(ai.note)
    params = tuple((k, v) for k, v in op.params if k != "ignore-error")
    return replace(p, steps=p.steps + (Step(op.mode, params),), ignore_error=p.ignore_error or params != op.params)


def _format(p: Pipeline, value: str) -> Pipeline:
    if value in ("avif", "heif", "heic", "tpg") and not p.advanced_compression:
        # ASSUMPTION: the cloud's reply is not documented; refused as an invalid rule (-60998), as CI would
        raise RuleError(f"format/{value} needs image advanced compression enabled on the bucket first "
                        f"({ops.COMPRESSION}); it is off on this bucket")
    if value in ops.FORMAT_NOTES:
        raise NotEmulated(f"{ops.FORMAT_NOTES[value]} is not emulated by the local server (no encoder)")
    return replace(p, format=ops.LOCAL_FORMATS[value])


def _mogr(p: Pipeline, params: tuple[tuple[str, str], ...]) -> Pipeline:
    given = dict(params)  # gravity, dx, dy, pad and color apply to their operation wherever they stand
    steps: list[Step] = []
    for name, value in params:
        spec = ops.MOGR[name]
        if spec.local is ops.Local.REFUSED:
            raise NotEmulated(spec.note)
        if name == "thumbnail":
            pad = (("pad", given.get("color", "")),) if given.get("pad") == "1" else ()
            steps.append(Step("thumbnail", (("geometry", value),) + pad))
        elif name == "crop":
            steps.append(Step("crop", (("size", value), ("gravity", given.get("gravity", "northwest")),
                                       ("dx", given.get("dx", "0")), ("dy", given.get("dy", "0")))))
        elif name == "rcrop":  # approximated: a crop of that size at the operation's gravity (CROPPING)
            steps.append(Step("crop", (("size", value), ("gravity", given.get("gravity", "center")),
                                       ("dx", given.get("dx", "0")), ("dy", given.get("dy", "0")))))
        elif name in ("scrop", "cut"):
            steps.append(Step(name, (("size", value),)))
        elif name == "rotate":
            steps.append(Step("rotate", (("degrees", value),)))
        elif name == "auto-orient":
            steps.append(Step("auto-orient"))
        elif name == "flip":
            steps.append(Step("flip", (("axis", value),)))
        elif name == "blur":  # approximated: sigma min(S, R), the radius bounding the kernel as ImageMagick's RxS
            radius, _, sigma = value.partition("x")
            steps.append(Step("blur", (("sigma", str(min(float(sigma), float(radius)))),)))
        elif name == "grayscale" and value == "1":
            steps.append(Step("grayscale"))
        elif name in ("bright", "contrast", "sharpen"):
            steps.append(Step(name, (("value", value),)))
        elif name in ("iradius", "rradius"):
            steps.append(Step(name, (("radius", value),)))
        elif name == "format":
            p = _format(p, value)
        elif name in ("quality", "rquality", "lquality"):
            mode = "force" if value.endswith("!") else name
            p = replace(p, quality_mode=mode, quality=int(value.rstrip("!")))
        elif name == "interlace":
            p = replace(p, interlace=value == "1")
        elif name == "strip":
            p = replace(p, strip=True)
        elif name == "size-limit":
            amount = int(value.rstrip("!")[:-1]) * (1024 if value.rstrip("!")[-1] == "k" else 1024 * 1024)
            p = replace(p, size_limit=amount, size_limit_smaller=value.endswith("!"))
        elif name == "ignore-error":
            p = replace(p, ignore_error=True)
        elif name == "cgif":
            p = replace(p, frames=30 if value == "1" else int(value))
        elif name == "minisize":
            p = replace(p, minisize=value == "1")
    return replace(p, steps=p.steps + tuple(steps))


def _view(p: Pipeline, op: rules.Operation) -> Pipeline:
    for name, value in op.params:
        if name == "format":
            p = _format(p, value)
        elif name in ("q", "rq", "lq"):
            mode = "force" if value.endswith("!") else {"q": "quality", "rq": "rquality", "lq": "lquality"}[name]
            p = replace(p, quality_mode=mode, quality=int(value.rstrip("!")))
        elif name == "interlace":
            p = replace(p, interlace=value == "1")
        elif name == "ignore-error":
            p = replace(p, ignore_error=True)
    if not op.mode:
        return p
    size = tuple((k, v) for k, v in op.params if k in ("w", "h"))
    return replace(p, steps=p.steps + (Step("imageView2", (("mode", op.mode),) + size),))


# --- output sizes, computed before anything is allocated ----------------------------------------------------


def thumbnail_size(spec: str, width: int, height: int) -> tuple[int, int]:
    """The output size of ``thumbnail/<spec>`` for a width x height input (ImageMagick-style geometry)."""
    m = ops.thumbnail_match(spec)
    if m is None:
        raise RuleError(f"thumbnail/{spec}: not a thumbnail geometry")
    ratio = width / height
    if m["pct"]:
        f = float(m["pct"]) / 100
        return checked(width * f, height * f)
    if m["wpct"]:
        return checked(width * float(m["wpct"]) / 100, height)
    if m["hpct"]:
        return checked(width, height * float(m["hpct"]) / 100)
    if m["area"]:
        scale = (int(m["area"]) / (width * height)) ** 0.5
        return checked(width * scale, height * scale) if scale < 1 else (width, height)
    if m["rw"]:
        scale = max(clamp_side(m["rw"]) / width, clamp_side(m["rh"]) / height)
        return checked(width * scale, height * scale)
    w, h, mod = (clamp_side(m["w"]) if m["w"] else 0), (clamp_side(m["h"]) if m["h"] else 0), m["mod"]
    if w and h:
        if mod == "!":
            return checked(w, h)
        scale = min(w / width, h / height)
    else:
        scale = w / width if w else h / height
    if (mod == ">" and scale >= 1) or (mod == "<" and scale <= 1):
        return width, height
    if w and not h:
        return checked(w, w / ratio)
    if h and not w:
        return checked(h * ratio, h)
    return checked(width * scale, height * scale)


def view2_size(step: Step, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """imageView2: (scaled size, crop box size or None)."""
    mode = int(step.get("mode"))
    w, h = clamp_side(step.get("w", "0")), clamp_side(step.get("h", "0"))
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
        return checked(width * scale, height * scale), (w, h)
    if mode in (3, 4):
        scale = max(w / width if w else 0, h / height if h else 0)
        return checked(width * scale, height * scale), None
    scale = min(w / width if w else float("inf"), h / height if h else float("inf"))
    scale = min(scale, 1.0)  # modes 0 and 2 limit the size: they never enlarge
    return checked(width * scale, height * scale), None


def rotated_size(degrees: int, width: int, height: int) -> tuple[int, int]:
    """The bounding box of a width x height image rotated by ``degrees`` (what Pillow's expand=True makes)."""
    rad = math.radians(degrees % 360)
    c, s = abs(math.cos(rad)), abs(math.sin(rad))
    return checked(math.ceil(width * c + height * s - 1e-9), math.ceil(width * s + height * c - 1e-9))


def planned_size(step: Step, width: int, height: int) -> tuple[int, int]:
    """A step's output size for a width x height input, checked against the limits before it runs."""
    name = step.name
    if name == "thumbnail":
        return thumbnail_size(step.get("geometry"), width, height)
    if name == "imageView2":
        return view2_size(step, width, height)[0]
    if name == "rotate":
        return rotated_size(int(step.get("degrees")), width, height)
    if name == "scrop":
        w, h = (clamp_side(p) for p in step.get("size").split("x"))
        return checked(w, h)
    if name in ("crop", "rcrop"):
        w_text, _, h_text = step.get("size").partition("x")
        return checked(min(width, clamp_side(w_text or width)), min(height, clamp_side(h_text or height)))
    if name == "cut":
        w, h, dx, dy = (int(p) for p in step.get("size").split("x"))
        return checked(max(1, min(clamp_side(w), width - dx)), max(1, min(clamp_side(h), height - dy)))
    if name == "iradius":
        side = min(2 * int(step.get("radius")), width, height)
        return checked(side, side)
    if name == "AISuperResolution":
        magnify = int(step.get("magnify", "2"))
        return checked(width * magnify, height * magnify)
    if name == "AIImageCrop":
        return checked(float(step.get("width")), float(step.get("height")))
    if name.endswith("Matting"):
        pad_x, _, pad_y = (step.get("padding-layout") or "0x0").partition("x")
        return checked(width + 2 * int(pad_x), height + 2 * int(pad_y))
    return checked(width, height)


def checked(w: float, h: float) -> tuple[int, int]:
    """A step's output size, refused when over CI's output limit or the local server's pixel budget."""
    iw, ih = max(1, round(w)), max(1, round(h))
    if iw > MAX_SIDE or ih > MAX_SIDE:
        raise LimitExceeded(f"the output would be {iw}x{ih}: over the limits ({MAX_SIDE} px a side)")
    if iw * ih > ops.MAX_OUTPUT_PIXELS:
        raise LimitExceeded(f"the output would be {iw}x{ih}: over the limits ({ops.MAX_OUTPUT_PIXELS:,} pixels)")
    if iw * ih > LOCAL_MAX_PIXELS:
        raise NotEmulated(f"the output would be {iw}x{ih}: too large for the local server (its own bound is "
                          f"{LOCAL_MAX_PIXELS:,} pixels per request; the cloud may accept it)")
    return iw, ih
