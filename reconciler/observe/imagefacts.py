"""What an image is, read from its bytes' header: format, width, height, size. No decoding, no pixels.

The only module that imports ``imagesize`` (dimensions from headers: JPEG, PNG, GIF, WebP, AVIF, HEIC, TIFF, BMP)
and ``filetype`` (the format from magic numbers). Used to describe preview samples without Pillow, and by
``plan --check-sources`` to tell sources that are no image from their first bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import filetype
import imagesize

from reconciler.storage import HeadReader


@dataclass(frozen=True)
class ImageFacts:
    format: str  # "jpg", "png", "webp", "avif", ... or "unknown"
    width: int  # 0 when the header does not say
    height: int
    size: int  # bytes
    animated: bool = False  # several frames (an animated GIF, WebP or PNG)


def image_kind(data: bytes) -> str:
    """The format the first bytes of a file show ("jpg", "png", "pdf", "zip", ...), or "unknown"."""
    return filetype.guess_extension(data) or "unknown"


def sniff_sources(storage: HeadReader, sources: Iterable[tuple[str, str]],
                  length: int = 64) -> dict[tuple[str, str], str]:
    """(bucket, key) -> ``image_kind`` of its first ``length`` bytes (a ranged GET each, through ``storage``)."""
    return {(bucket, key): image_kind(storage.get_head(bucket, key, length)) for bucket, key in sources}


def facts_of(data: bytes) -> ImageFacts:
    """The facts of one image's bytes; unknown formats and unreadable headers give "unknown" and 0 x 0."""
    kind = filetype.guess_extension(data) or "unknown"
    try:
        width, height = imagesize.get(io.BytesIO(data))
    except (ValueError, OSError, IndexError, TypeError):
        width, height = -1, -1
    return ImageFacts(kind, max(int(width), 0), max(int(height), 0), len(data), animated(data, kind))


def animated(data: bytes, kind: str) -> bool:
    """Whether the bytes hold several frames, read from the container, not decoded: a GIF with more than one
    graphic control extension, a WebP with an ``ANIM`` chunk, a PNG with an ``acTL`` chunk (APNG)."""
    if kind == "gif":
        return data.count(b"\x21\xf9\x04") > 1
    if kind == "webp":
        return b"ANIM" in data[:4096]
    if kind in ("png", "apng"):
        idat = data.find(b"IDAT")
        return b"acTL" in data[: idat if idat > 0 else 4096]
    return False
