"""Run parsed Cloud Infinite rules on image bytes with Pillow (the only module importing PIL).

imageMogr2 / imageView2 operations are real. Every step's output size is computed before the step runs
(``ruleparse``) and refused over the limits, so no rule can allocate more than the budget. Output quality follows
CI's documented semantics against the source's JPEG quality (estimated from its quantisation tables);
size-limit, ignore-error/1, minisize and animated GIFs (frames kept) behave as the docs say; that an animated GIF
is never scaled up is an ASSUMPTION (no page read says so; docs/local-server.md).
The AI operations are deterministic local stand-ins: their output has the size and format the real service
gives (super-resolution scales, AIImageCrop honours width/height, matting yields PNG with an alpha channel) but
the content is approximated (resampling, filters, a background-colour key), which README states plainly.
"""

from __future__ import annotations

import functools
import io
import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from reconciler.declare import operations as ops
from reconciler.local.steps import STEPS
from reconciler.declare.ci_errors import Culprit
from reconciler.local.ruleparse import (LOCAL_MAX_PIXELS, MAX_INPUT_SIDE, MAX_PIXELS, LimitExceeded, NotEmulated,
                                        Pipeline, RuleError, Step, planned_size)

MAX_INPUT_BYTES = ops.MAX_INPUT_BYTES
MAX_AI_INPUT_BYTES = ops.MAX_AI_INPUT_BYTES
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_PIL_FORMAT = {"jpg": "JPEG", "png": "PNG", "bmp": "BMP", "webp": "WEBP", "tiff": "TIFF", "gif": "GIF",
               "avif": "AVIF"}
_FROM_PIL = {v: k for k, v in _PIL_FORMAT.items()} | {"MPO": "jpg"}
_MIME = {"jpg": "image/jpeg", "png": "image/png", "bmp": "image/bmp", "webp": "image/webp", "tiff": "image/tiff",
         "gif": "image/gif", "avif": "image/avif"}
_LOSSY = ("jpg", "webp", "avif")
PROCESS_SLOTS = 2  # requests processed at once; the others wait (with LOCAL_MAX_PIXELS, this bounds memory)
_SLOTS = threading.BoundedSemaphore(PROCESS_SLOTS)
_DEFAULT_QUALITY = 85  # a source without a known quality (not a JPEG): an approximation, CI does not document it
_IJG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


class NotAnImage(ValueError):
    """The source cannot be decoded as an image."""


@dataclass(frozen=True)
class ImageInfo:
    """What OriginalInfo/ImageInfo and ProcessResults report about an image."""

    format: str
    width: int
    height: int
    quality: int
    orientation: int
    ave: str


@dataclass(frozen=True)
class Output:
    """A processed image: bytes plus its reported info and MIME type."""

    data: bytes
    info: ImageInfo
    mime: str


def _open(data: bytes, steps: tuple[Step, ...] = ()) -> Image.Image:
    """Decode the source, refusing before decoding what is over the documented or local limits, and (with
    ``steps``) any rule whose intermediate sizes, worked out from the header alone, would be."""
    if len(data) > MAX_INPUT_BYTES:
        raise LimitExceeded(f"the source is {len(data)} bytes: over the 32 MB input limit")
    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
        if image.width > MAX_INPUT_SIDE or image.height > MAX_INPUT_SIDE:
            raise LimitExceeded(f"the source is {image.width}x{image.height}: over {MAX_INPUT_SIDE} px a side")
        if frames > ops.MAX_GIF_FRAMES:
            raise LimitExceeded(f"the source has {frames} frames: over the {ops.MAX_GIF_FRAMES} frame limit")
        if image.width * image.height * frames > LOCAL_MAX_PIXELS:
            raise NotEmulated(f"the source is {image.width}x{image.height} x {frames} frame(s): too large for "
                              f"the local server (its own bound is {LOCAL_MAX_PIXELS:,} pixels per request; CI "
                              f"accepts up to {MAX_PIXELS:,})")
        size = image.size
        for step in steps:
            size = planned_size(step, *size)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, RuleError):
            raise
        if isinstance(exc, Image.DecompressionBombError):
            raise LimitExceeded(f"the source is over {MAX_PIXELS} pixels") from None
        raise NotAnImage("the source object is not an image Cloud Infinite can decode") from None
    return image


def _ijg_table(q: int) -> list[int]:
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return sorted(min(255, max(1, (b * scale + 50) // 100)) for b in _IJG_LUMA)


_IJG_TABLES = [(q, _ijg_table(q)) for q in range(1, 101)]


@functools.lru_cache(maxsize=256)
def _closest_quality(luma: tuple[int, ...]) -> int:
    return min(_IJG_TABLES, key=lambda qt: sum(abs(a - b) for a, b in zip(qt[1], luma)))[0]


def jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality whose luminance table is closest to the JPEG's own, or None for other formats."""
    tables: Any = getattr(image, "quantization", None)
    if image.format not in ("JPEG", "MPO") or not tables or 0 not in tables:
        return None
    return _closest_quality(tuple(sorted(tables[0])))


def describe(data: bytes) -> ImageInfo:
    """Format, size, quality estimate, EXIF orientation and average colour of an image."""
    image = _open(data)
    return _info(image, jpeg_quality(image) or 100)


def frame_count(data: bytes) -> int:
    """How many frames an image has (1 for a still image)."""
    return int(getattr(_open(data), "n_frames", 1))


def _info(image: Image.Image, quality: int) -> ImageInfo:
    fmt = _FROM_PIL.get(image.format or "", (image.format or "").lower())
    orientation = 1
    try:
        orientation = int(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF must not fail processing
        orientation = 1
    small = image.convert("RGB").resize((1, 1), Image.Resampling.BOX)
    red, green, blue = small.getpixel((0, 0))  # type: ignore[misc]
    return ImageInfo(fmt, image.width, image.height, quality, orientation, f"0x{red:02x}{green:02x}{blue:02x}")


def output_quality(pipeline: Pipeline, source: int | None) -> int:
    """CI's quality semantics (1045/33717): none keeps the source's, quality/Q is min(source, Q) unless Q!,
    rquality/R is source x R/100, lquality/L is max(source, L). Without a known source quality, Q itself."""
    q, mode = pipeline.quality, pipeline.quality_mode
    if mode == "force" or (mode and source is None):
        return q
    if mode == "quality":
        return min(source or q, q)
    if mode == "rquality":
        return max(1, round((source or 100) * q / 100))
    if mode == "lquality":
        return max(source or q, q)
    return source or _DEFAULT_QUALITY


def process(data: bytes, pipeline: Pipeline) -> Output:
    """Apply a parsed rule to image bytes; raises RuleError or NotAnImage. With ignore-error/1 a failure for a
    size or parameter limit returns the original image instead (limits page 460/36620); never a refusal of the
    local server's own (501: the cloud would have made an output)."""
    try:
        with _SLOTS:
            return _process(data, pipeline)
    except RuleError as exc:
        if not pipeline.ignore_error or exc.culprit not in (Culprit.LIMIT, Culprit.RULE):
            raise
        return original(data)


def original(data: bytes) -> Output:
    """The source bytes as an output (ignore-error/1, size-limit/...!, minisize/1), described from its header
    alone: a source refused for its size is never decoded."""
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError):
        raise NotAnImage("the source object is not an image Cloud Infinite can decode") from None
    fmt = _FROM_PIL.get(image.format or "", (image.format or "").lower())
    info = ImageInfo(fmt, image.width, image.height, jpeg_quality(image) or 100, 1, "")
    return Output(data, info, _MIME.get(fmt, "application/octet-stream"))


def _process(data: bytes, pipeline: Pipeline) -> Output:
    image = _open(data, pipeline.steps)
    source_format = _FROM_PIL.get(image.format or "", "png")
    source_quality = jpeg_quality(image)
    exif = image.info.get("exif")
    if any(s.name.startswith("AI") or s.name.endswith("Matting") for s in pipeline.steps) and len(
            data) > MAX_AI_INPUT_BYTES:
        raise LimitExceeded("ci-process: the source is over the 5 MB limit of AI operations")
    if source_format == "gif" and any(s.name in ("iradius", "rradius") for s in pipeline.steps):
        raise RuleError("iradius and rradius are not supported for GIF (CROPPING)")  # the page says so; the
        # cloud's exact reply to it is not documented: refused as an invalid rule (-60998)
    fmt = pipeline.format or ("png" if any(s.name.endswith("Matting") for s in pipeline.steps) else source_format)
    frames = _frames(image, pipeline, fmt)
    animated = len(frames) > 1
    for step in pipeline.steps:
        frames = [_run(frame, step, animated) for frame in frames]
    if fmt == "webp" and max(frames[0].size) > ops.MAX_WEBP_SIDE:
        raise LimitExceeded(f"the output would be {frames[0].width}x{frames[0].height}: over the limits for WebP "
                            f"({ops.MAX_WEBP_SIDE} px a side)")
    if exif and any(step.name == "auto-orient" for step in pipeline.steps):
        exif = _upright(exif)
    out = _encode(frames, fmt, pipeline, output_quality(pipeline, source_quality),
                  None if pipeline.strip else exif, image.info.get("duration"))
    if fmt == "jpg" and pipeline.size_limit:
        out = _size_limited(frames[0], pipeline, out, None if pipeline.strip else exif)
        if pipeline.size_limit_smaller and len(out.data) >= len(data):
            return original(data)
    if pipeline.minisize and len(out.data) >= len(data):
        return original(data)
    return out


def _frames(image: Image.Image, pipeline: Pipeline, fmt: str) -> list[Image.Image]:
    """The frames to process: all of an animated GIF/WebP kept as animation (cgif/N keeps N), else the first."""
    count = getattr(image, "n_frames", 1)
    if count <= 1 or fmt not in ("gif", "webp"):
        return [image]
    keep = min(count, pipeline.frames or count)
    frames = []
    for index in range(keep):
        image.seek(index)
        frames.append(image.convert("RGBA"))
    return frames


def _run(image: Image.Image, step: Step, animated: bool) -> Image.Image:
    size = planned_size(step, image.width, image.height)
    if animated and step.name in ("thumbnail", "imageView2", "scrop") and (
            size[0] > image.width or size[1] > image.height):
        return image  # ASSUMPTION: an animated GIF is not scaled up (no page read says so)
    return STEPS[step.name](image, step)


def _upright(exif: bytes) -> bytes:
    """The EXIF block with Orientation reset to 1 (the pixels were rotated: viewers must not rotate again)."""
    data = Image.Exif()
    data.load(exif)
    data[0x0112] = 1
    return data.tobytes()


def _encode(frames: list[Image.Image], fmt: str, pipeline: Pipeline, quality: int, exif: bytes | None,
            duration: Any = None) -> Output:
    image = _flatten(frames[0], fmt)
    options: dict[str, object] = {}
    if fmt == "jpg":
        options.update(quality=quality, progressive=pipeline.interlace, optimize=pipeline.slim)
        if exif:
            options["exif"] = exif
    elif fmt in ("webp", "avif"):
        options["quality"] = quality
    if len(frames) > 1:
        rest = [_flatten(frame, fmt) for frame in frames[1:]]
        options.update(save_all=True, append_images=rest, loop=0)
        if duration:
            options["duration"] = duration
    buf = io.BytesIO()
    image.save(buf, _PIL_FORMAT[fmt], **options)
    info = ImageInfo(fmt, image.width, image.height, quality if fmt in _LOSSY else 100, 1, "")
    return Output(buf.getvalue(), info, _MIME[fmt])


def _flatten(image: Image.Image, fmt: str) -> Image.Image:
    """The image in a mode the format can store (JPG/BMP: on white; GIF: a palette)."""
    if fmt in ("jpg", "bmp"):
        if image.mode in ("RGBA", "LA", "P"):
            background = Image.new("RGB", image.size, (255, 255, 255))
            rgba = image.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if fmt == "gif" and image.mode not in ("P", "L"):
        return image.convert("RGBA" if "A" in image.mode else "RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        return image.convert("RGBA")
    return image


def _size_limited(image: Image.Image, pipeline: Pipeline, out: Output, exif: bytes | None) -> Output:
    """size-limit/N (JPG, 1045/40716): the highest quality whose encoding is at most N bytes (quality 1 if
    none is)."""
    if len(out.data) <= pipeline.size_limit:
        return out
    low, high, best = 1, max(1, out.info.quality - 1), None
    while low <= high:
        middle = (low + high) // 2
        candidate = _encode([image], "jpg", pipeline, middle, exif)
        if len(candidate.data) <= pipeline.size_limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best or _encode([image], "jpg", pipeline, 1, exif)


def pixel_count(data: bytes) -> int:
    """Decoded pixels of an image (width x height x frames) read from its header without decoding it; 0 when
    it is not an image (processing then refuses it)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.width * image.height * max(1, int(getattr(image, "n_frames", 1)))
    except Exception:  # noqa: BLE001 - anything undecodable costs nothing here; process() reports it
        return 0
