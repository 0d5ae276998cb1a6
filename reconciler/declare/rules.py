"""Cloud Infinite rule grammar: parse, validate, normalise, fingerprint. Pure (no I/O).

A rule is ``style/<name>`` or one or more operations joined by ``|`` (at most 10): ``imageMogr2/...``,
``imageView2/...``, ``watermark/<1|2|3>/...``, ``imageSlim``, ``ci-process=<Op>&param=value``. Validation
catches typos (unknown processor or parameter, malformed thumbnail geometry, unknown AI operation) and
accepts every form listed in the reference notes; values it does not understand are passed through as long
as the structure is right.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_OPERATIONS = 10


class RuleError(ValueError):
    """A rule Cloud Infinite would reject or that is a likely typo; the message names the bad part."""


@dataclass(frozen=True)
class Operation:
    """One ``|``-separated operation: its processor and its parameters in order (name, value)."""

    processor: str  # imageMogr2, imageView2, watermark, imageSlim, ci-process, style
    params: tuple[tuple[str, str], ...] = ()
    mode: str = ""  # imageView2 mode, watermark type, ci-process operation name, style name


@dataclass(frozen=True)
class ParsedRule:
    text: str  # normalised
    operations: tuple[Operation, ...]


# --- value checks ---------------------------------------------------------------------------------------

GRAVITIES = ("northwest", "north", "northeast", "west", "center", "east", "southwest", "south", "southeast")
FORMATS = ("jpg", "jpeg", "png", "apng", "bmp", "webp", "tiff", "gif", "avif", "heif", "heic", "tpg", "svgz", "yjpeg")
_THUMB = re.compile(
    r"!\d+(\.\d+)?p|!\d+(\.\d+)?px|!x\d+(\.\d+)?p|\d+x|x\d+|\d+x\d+[><!]?|!\d+x\d+r|\d+@"
)
Check = Callable[[str], bool]


def _regex(pattern: str) -> Check:
    compiled = re.compile(pattern)
    return lambda v: compiled.fullmatch(v) is not None


def _int_range(lo: int, hi: int) -> Check:
    return lambda v: v.lstrip("-").isdigit() and lo <= int(v) <= hi


def _one_of(*values: str) -> Check:
    return lambda v: v in values


_ANY: Check = lambda v: v != ""  # noqa: E731
_THUMB_FORMS = "!Np, !Npx, !xNp, Wx, xH, WxH, WxH>, WxH<, WxH!, !WxHr, Area@"

# imageMogr2 parameters: name -> (value check, what is expected); None marks a flag without value
MOGR: dict[str, tuple[Check, str] | None] = {
    "thumbnail": (lambda v: _THUMB.fullmatch(v) is not None, f"one of the forms {_THUMB_FORMS}"),
    "pad": (_one_of("0", "1"), "0 or 1"),
    "color": (_ANY, "a url-safe base64 colour"),
    "cut": (_regex(r"\d+x\d+x\d+x\d+"), "WxHxDXxDY"),
    "crop": (_regex(r"\d+x|x\d+|\d+x\d+"), "Wx, xH or WxH"),
    "gravity": (_one_of(*GRAVITIES), "one of " + ", ".join(GRAVITIES)),
    "dx": (_regex(r"-?\d+"), "an integer"),
    "dy": (_regex(r"-?\d+"), "an integer"),
    "iradius": (_regex(r"\d+"), "a radius in pixels"),
    "rradius": (_regex(r"\d+"), "a radius in pixels"),
    "scrop": (_regex(r"\d+x\d+"), "WxH"),
    "rcrop": (_regex(r"\d+x|x\d+|\d+x\d+"), "Wx, xH or WxH"),
    "rotate": (_int_range(0, 360), "an angle 0-360"),
    "auto-orient": None,
    "flip": (_one_of("vertical", "horizontal"), "vertical or horizontal"),
    "format": (_one_of(*FORMATS), "one of " + ", ".join(FORMATS)),
    "cgif": (_regex(r"\d+"), "a frame count"),
    "interlace": (_one_of("0", "1"), "0 or 1"),
    "quality": (_regex(r"(100|[1-9]?\d)!?"), "1-100, optionally followed by '!'"),
    "rquality": (_int_range(0, 100), "0-100"),
    "lquality": (_int_range(0, 100), "0-100"),
    "minisize": (_one_of("0", "1"), "0 or 1"),
    "strip": None,
    "blur": (_regex(r"\d+x\d+"), "RxS (radius x sigma)"),
    "bright": (_int_range(-100, 100), "-100 to 100"),
    "contrast": (_int_range(-100, 100), "-100 to 100"),
    "sharpen": (_regex(r"\d+"), "an amount"),
    "grayscale": (_one_of("0", "1"), "0 or 1"),
    "size-limit": (_regex(r"\d+(k|m)!?"), "N followed by k or m, optionally '!'"),
    "ignore-error": (_one_of("1"), "1"),
}
VIEW: dict[str, tuple[Check, str]] = {
    "w": (_regex(r"\d+"), "a width in pixels"),
    "h": (_regex(r"\d+"), "a height in pixels"),
    "format": MOGR["format"],  # type: ignore[dict-item]
    "q": (_regex(r"(100|[1-9]?\d)!?"), "1-100"),
    "rq": (_int_range(0, 100), "0-100"),
    "lq": (_int_range(0, 100), "0-100"),
    "interlace": (_one_of("0", "1"), "0 or 1"),
    "ignore-error": (_one_of("1"), "1"),
}
# AI operations that produce images: name -> {param: (check, expected)}, required params
AI_OPS: dict[str, tuple[dict[str, tuple[Check, str]], tuple[str, ...]]] = {
    "AISuperResolution": ({"magnify": (_one_of("1", "2", "4"), "1, 2 or 4")}, ()),
    "AIImageColoring": ({}, ()),
    "AIEnhanceImage": (
        {"denoise": (_int_range(0, 5), "0-5"), "sharpen": (_int_range(0, 5), "0-5")},
        (),
    ),
    "AIImageCrop": (
        {"width": (_regex(r"\d+"), "pixels"), "height": (_regex(r"\d+"), "pixels"), "fixed": (_one_of("0", "1"), "0 or 1")},
        ("width", "height"),
    ),
    "AIPicMatting": ({}, ()),
    "AIPortraitMatting": ({}, ()),
    "GoodsMatting": ({}, ()),
    "ImageRepair": ({"MaskPic": (_ANY, "url-safe base64"), "MaskPoly": (_ANY, "url-safe base64")}, ()),
}
_MATTING = {"center-layout": (_one_of("0", "1"), "0 or 1"), "padding-layout": (_regex(r"\d+x\d+"), "DXxDY")}
for _op in ("AIPicMatting", "AIPortraitMatting", "GoodsMatting"):
    AI_OPS[_op] = (dict(_MATTING), ())
# recognition operations answer with JSON, not an image: not usable as outputs
RECOGNITION = ("face-effect", "AILicenseRec", "AIGameRec", "AIBodyRecognition", "DetectLabel", "AssessQuality",
               "detect-car", "RecognizeLogo", "AIDetectFace", "AIDetectPet", "AIFaceEffect", "DetectFace")


# --- parsing --------------------------------------------------------------------------------------------


def normalise_rule(rule: str) -> str:
    """Canonical text of a rule: whitespace and trailing slashes dropped, ci-process parameters sorted.

    Two rules normalise equal only when they mean the same; it never raises (invalid rules normalise too).
    """
    ops = []
    for op in rule.split("|"):
        op = "".join(op.split())
        if op.startswith("ci-process="):
            head, *params = op.split("&")
            op = "&".join([head, *sorted(p for p in params if p)])
        else:
            op = op.rstrip("/")
        ops.append(op)
    return "|".join(ops)


def fingerprint(rule: str, bucket: str, fileid_template: str) -> str:
    """Short stable hex digest of the normalised rule, the destination bucket and the fileid template."""
    payload = json.dumps([normalise_rule(rule), bucket, fileid_template], ensure_ascii=True)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:16]


def parse_rule(rule: str) -> ParsedRule:
    """Parse and validate a rule. Raises RuleError naming the bad part."""
    text = normalise_rule(rule)
    if not text.replace("|", ""):
        raise RuleError("empty rule")
    parts = text.split("|")
    if len(parts) > MAX_OPERATIONS:
        raise RuleError(f"{len(parts)} operations joined by '|' (Cloud Infinite allows at most {MAX_OPERATIONS})")
    operations = []
    for i, part in enumerate(parts, 1):
        if not part:
            raise RuleError(f"operation {i} is empty (stray '|')")
        try:
            operations.append(_operation(part))
        except RuleError as exc:
            if len(parts) == 1:
                raise
            raise RuleError(f"operation {i} ({part}): {exc}") from None
    if any(op.processor == "style" for op in operations) and len(operations) > 1:
        raise RuleError("style/<name> stands alone; it cannot be joined with other operations by '|'")
    return ParsedRule(text, tuple(operations))


def _operation(part: str) -> Operation:
    if part.startswith("ci-process="):
        return _ai(part)
    tokens = part.split("/")
    head = tokens[0]
    if head == "imageMogr2":
        return Operation(head, _mogr(tokens[1:]))
    if head == "imageView2":
        return _view(tokens[1:])
    if head == "watermark":
        return _watermark(tokens[1:])
    if head == "style":
        if len(tokens) != 2 or not re.fullmatch(r"[A-Za-z0-9_.-]+", tokens[1]):
            raise RuleError("style/<name> takes one style name (letters, digits, '_', '-', '.')")
        return Operation(head, (), tokens[1])
    if head in ("imageSlim", "imageslim"):
        if len(tokens) > 1:
            raise RuleError(f"{head} takes no parameters")
        return Operation(head)
    known = ["imageMogr2", "imageView2", "watermark", "imageSlim", "style", "ci-process"]
    raise RuleError(f"unknown processor {head!r}{_suggest(head, known)} (known: {', '.join(known)})")


def _mogr(tokens: list[str]) -> tuple[tuple[str, str], ...]:
    if not tokens:
        raise RuleError("imageMogr2 has no parameters")
    params: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        name = tokens[i]
        if name not in MOGR:
            raise RuleError(f"unknown imageMogr2 parameter {name!r}{_suggest(name, list(MOGR))}")
        spec = MOGR[name]
        if spec is None:
            params.append((name, ""))
            i += 1
            continue
        if i + 1 >= len(tokens) or tokens[i + 1] == "":
            raise RuleError(f"imageMogr2 {name} needs a value ({spec[1]})")
        value = tokens[i + 1]
        if not spec[0](value):
            what = "geometry" if name == "thumbnail" else "value"
            raise RuleError(f"malformed {name} {what} {value!r} (expected {spec[1]})")
        params.append((name, value))
        i += 2
    return tuple(params)


def _view(tokens: list[str]) -> Operation:
    if not tokens or tokens[0] not in ("0", "1", "2", "3", "4", "5"):
        got = repr(tokens[0]) if tokens else "nothing"
        raise RuleError(f"imageView2 needs a mode 0-5 first, got {got}")
    pairs = _pairs(tokens[1:], "imageView2")
    for name, value in pairs:
        if name not in VIEW:
            raise RuleError(f"unknown imageView2 parameter {name!r}{_suggest(name, list(VIEW))}")
        check, expected = VIEW[name]
        if not check(value):
            raise RuleError(f"malformed imageView2 {name} value {value!r} (expected {expected})")
    return Operation("imageView2", pairs, tokens[0])


def _watermark(tokens: list[str]) -> Operation:
    if not tokens or tokens[0] not in ("1", "2", "3"):
        got = repr(tokens[0]) if tokens else "nothing"
        raise RuleError(f"watermark needs a type first: 1 (image), 2 (text) or 3 (blind), got {got}")
    pairs = _pairs(tokens[1:], "watermark")
    if not pairs:
        raise RuleError("watermark has no parameters (image/..., text/..., ...)")
    for name, value in pairs:
        if name == "gravity" and value not in GRAVITIES:
            raise RuleError(f"malformed watermark gravity {value!r} (expected one of {', '.join(GRAVITIES)})")
    return Operation("watermark", pairs, tokens[0])


def _pairs(tokens: list[str], processor: str) -> tuple[tuple[str, str], ...]:
    if len(tokens) % 2:
        raise RuleError(f"{processor} parameter {tokens[-1]!r} has no value")
    pairs = tuple((tokens[i], tokens[i + 1]) for i in range(0, len(tokens), 2))
    for name, value in pairs:
        if not name or not value:
            raise RuleError(f"{processor} has an empty parameter name or value")
    return pairs


def _ai(part: str) -> Operation:
    head, *rest = part.split("&")
    name = head[len("ci-process=") :]
    if name in RECOGNITION:
        raise RuleError(f"ci-process={name} answers with JSON, not an image: it cannot be an output")
    if name not in AI_OPS:
        raise RuleError(f"unknown AI operation {name!r}{_suggest(name, list(AI_OPS))} (known: {', '.join(AI_OPS)})")
    allowed, required = AI_OPS[name]
    params: list[tuple[str, str]] = []
    for item in rest:
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise RuleError(f"parameter {item!r} of {name} is not name=value")
        if key not in allowed:
            hint = f" (allowed: {', '.join(allowed)})" if allowed else f" ({name} takes no parameters)"
            raise RuleError(f"unknown parameter {key!r} for {name}{_suggest(key, list(allowed))}{hint}")
        check, expected = allowed[key]
        if not check(value):
            raise RuleError(f"{name} {key}={value!r} is not valid (expected {expected})")
        params.append((key, value))
    missing = [r for r in required if r not in dict(params)]
    if missing:
        raise RuleError(f"{name} needs {' and '.join(missing)}")
    if name == "ImageRepair" and not {"MaskPic", "MaskPoly"} & set(dict(params)):
        raise RuleError("ImageRepair needs MaskPic or MaskPoly")
    return Operation("ci-process", tuple(params), name)


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""
