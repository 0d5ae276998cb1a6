"""How much memory a processing request of the local server holds at its peak, worked out before it runs from the
source's header and the parsed rules (issue 22: the admission counted 12 bytes per source pixel, but rotate, blur
and format conversions each hold more images at once: four 40 Mpx rotate+blur requests peaked at 1,285 MB).

Pillow keeps 8-bit RGB, RGBA, LA and CMYK images in 4 bytes a pixel (L and P in 1, counted as 4 here). While
``imaging`` runs a rule, the decoded source stays alive; each step holds its input, a working copy (a mode
conversion or a filter's temporary; two for the steps that compose layers) and its output; encoding holds the
last output, a flattened copy when the format needs another mode (JPG, BMP, GIF from an image with alpha), and
the encoded bytes twice (the buffer and the copy taken of it), bounded by 4 bytes a pixel for lossless formats
and 2 for lossy ones, and for WebP and AVIF the encoder's own copy of the picture. A request's estimate is its largest phase plus the source bytes and the earlier rules'
encoded outputs. Measured on a 6320x6320 PNG (``scripts/measure_local_memory.py``): rotate/90 12 B/px,
rotate/90 + blur 16 B/px, format/jpg 4 B/px, format/webp 9.9 B/px; the estimate is 16, 16, 8 and 12. Pure: no
Pillow, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.local.ruleparse import Pipeline, RuleError, planned_size

BYTES_PER_PIXEL = 4
# steps that hold two working images besides their input and output (layers composed, enhancers' degenerate image)
_TWO_TEMPS = frozenset({"bright", "contrast", "watermark", "iradius", "rradius", "AIPicMatting", "AIPortraitMatting",
                        "GoodsMatting", "AIEnhanceImage", "AIImageColoring", "thumbnail", "scrop"})
_LOSSY = frozenset({"jpg", "jpeg", "webp", "avif", "heif", "heic"})
_FLATTENED = frozenset({"jpg", "jpeg", "bmp", "gif"})
_ENCODER_COPIES = {"webp": 1, "avif": 1}  # libwebp / libavif convert the picture (ARGB, YUV) before encoding


@dataclass(frozen=True)
class Header:
    """What the source's header says: its size, frames, whether it has alpha (or a palette) and its format."""

    width: int
    height: int
    frames: int = 1
    alpha: bool = True  # unknown: assume the costlier case
    format: str = "png"
    size: int = 0  # the source's bytes


def pipeline_bytes(header: Header, pipeline: Pipeline) -> tuple[int, int]:
    """(peak bytes while running ``pipeline`` on the source, bytes of its encoded output at most). A rule refused
    for a limit costs only the decoded source (it fails, or with ignore-error/1 returns the original)."""
    fmt = pipeline.format or header.format
    frames = header.frames if header.frames > 1 and fmt in ("gif", "webp") else 1
    pixels = header.width * header.height * frames
    decoded = pixels * BYTES_PER_PIXEL
    peak, size = decoded, (header.width, header.height)
    try:
        for number, step in enumerate(pipeline.steps):
            out = planned_size(step, *size)
            before, after = size[0] * size[1] * frames, out[0] * out[1] * frames
            temps = 2 if step.name in _TWO_TEMPS else 1
            live = (before if number else 0) + temps * max(before, after) + after
            peak = max(peak, decoded + live * BYTES_PER_PIXEL)
            size = out
    except RuleError:
        return decoded, 0
    out_pixels = size[0] * size[1] * frames
    last = out_pixels * BYTES_PER_PIXEL if pipeline.steps else 0
    flattened = 2 * out_pixels * BYTES_PER_PIXEL if fmt in _FLATTENED and header.alpha else 0
    flattened += _ENCODER_COPIES.get(fmt, 0) * out_pixels * BYTES_PER_PIXEL
    encoded = out_pixels * (2 if fmt in _LOSSY else BYTES_PER_PIXEL)
    return max(peak, decoded + last + flattened + 2 * encoded), encoded


def request_bytes(header: Header, pipelines: Sequence[Pipeline], *, describe: bool = False) -> int:
    """The estimate a request is admitted with: the source's bytes, the largest phase of its rules (run one after
    another, each rule's encoded output kept until all are written) and, with ``describe`` (is_pic_info), the
    RGB copy the average colour is read from."""
    if header.width <= 0 or header.height <= 0:
        return max(1, header.size)  # not an image: processing refuses it before decoding anything
    held = 0
    peak = 2 * header.width * header.height * BYTES_PER_PIXEL if describe else 0
    for pipeline in pipelines:
        rule_peak, encoded = pipeline_bytes(header, pipeline)
        peak = max(peak, held + rule_peak)
        held += encoded
    return header.size + max(peak, held)
