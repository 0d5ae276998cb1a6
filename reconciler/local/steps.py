"""The local server's image operations, one function per step name (``STEPS``), run by ``imaging``.

Each takes a Pillow image and a ``ruleparse.Step`` whose output size ``ruleparse.planned_size`` has already
checked against the limits. imageMogr2 and imageView2 operations are real; the AI operations and the
watermarks are approximated (see docs/local-server.md, "CI processing").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from reconciler.declare.operations import b64_decoded
from reconciler.local.ruleparse import LimitExceeded, RuleError, Step, clamp_side, thumbnail_size, view2_size


def b64_text(value: str, where: str) -> str:
    """Decode a URL-safe base64 parameter (padding optional), as CI's watermark fields are written."""
    text = b64_decoded(value)
    if text is None:
        raise RuleError(f"{where}: not URL-safe base64 of UTF-8 text")
    return text


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if size == image.size:
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    return image.resize(size, Image.Resampling.LANCZOS)


def _gravity_box(image: Image.Image, w: int, h: int, gravity: str, dx: int = 0, dy: int = 0) -> Image.Image:
    w, h = min(w, image.width), min(h, image.height)
    free_x, free_y = image.width - w, image.height - h
    x = {"west": 0, "east": free_x}.get(gravity.replace("north", "").replace("south", ""), free_x // 2)
    y = free_y // 2
    if gravity.startswith("north"):
        y = 0
    elif gravity.startswith("south"):
        y = free_y
    if gravity in ("north", "south"):
        x = free_x // 2
    x = max(0, min(free_x, x + dx))
    y = max(0, min(free_y, y + dy))
    return image.crop((x, y, x + w, y + h))


def _thumbnail(image: Image.Image, step: Step) -> Image.Image:
    """thumbnail; with pad/1 a WxH fit is padded to exactly WxH with ``color`` (default white)."""
    resized = _resize(image, thumbnail_size(step.get("geometry"), image.width, image.height))
    geometry = step.get("geometry")
    if not any(k == "pad" for k, _ in step.params) or not geometry[:1].isdigit() or "x" not in geometry:
        return resized
    w_text, _, h_text = geometry.rstrip("!<>").partition("x")
    if not (w_text and h_text):
        return resized
    color = b64_text(step.get("pad"), "color") if step.get("pad") else "#FFFFFF"
    rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    canvas = Image.new("RGB", (clamp_side(w_text), clamp_side(h_text)), rgb)  # type: ignore[arg-type]
    canvas.paste(resized.convert("RGB"), ((canvas.width - resized.width) // 2, (canvas.height - resized.height) // 2))
    return canvas


def _crop(image: Image.Image, step: Step) -> Image.Image:
    w_text, _, h_text = step.get("size").partition("x")
    w = clamp_side(w_text) if w_text else image.width
    h = clamp_side(h_text) if h_text else image.height
    return _gravity_box(image, w, h, step.get("gravity", "northwest"), int(step.get("dx", "0")),
                        int(step.get("dy", "0")))


def _cut(image: Image.Image, step: Step) -> Image.Image:
    w, h, dx, dy = (int(p) for p in step.get("size").split("x"))
    w, h = clamp_side(w), clamp_side(h)
    if dx >= image.width or dy >= image.height:
        raise RuleError(f"imageMogr2/cut/{step.get('size')}: the offset is outside the {image.width}x{image.height} image")
    return image.crop((dx, dy, min(image.width, dx + w), min(image.height, dy + h)))


def _scrop(image: Image.Image, step: Step) -> Image.Image:
    w, h = (clamp_side(p) for p in step.get("size").split("x"))
    scale = max(w / image.width, h / image.height)
    resized = _resize(image, (max(w, round(image.width * scale)), max(h, round(image.height * scale))))
    return _gravity_box(resized, w, h, "center")


def _view2(image: Image.Image, step: Step) -> Image.Image:
    size, box = view2_size(step, image.width, image.height)
    image = _resize(image, size)
    return _gravity_box(image, box[0], box[1], "center") if box else image


def _rounded(image: Image.Image, step: Step) -> Image.Image:
    radius = int(step.get("radius"))
    image = image.convert("RGBA")
    if step.name == "iradius":
        side = min(2 * radius, image.width, image.height)
        image = _gravity_box(image, side, side, "center")
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, side - 1, side - 1), fill=255)
    else:
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, image.width - 1, image.height - 1), radius=radius, fill=255)
    image.putalpha(ImageChops.multiply(image.getchannel("A"), mask))
    return image


def _enhance(image: Image.Image, step: Step) -> Image.Image:
    base = image.convert("RGBA" if "A" in image.mode else "RGB")
    factor = 1 + int(step.get("value")) / 100
    enhancer = ImageEnhance.Brightness(base) if step.name == "bright" else ImageEnhance.Contrast(base)
    return enhancer.enhance(factor)


def _super_resolution(image: Image.Image, step: Step) -> Image.Image:
    if image.width * image.height > 1920 * 1080:
        raise LimitExceeded("ci-process=AISuperResolution: the input is over 1920x1080")
    magnify = int(step.get("magnify", "2"))
    return _resize(image, (image.width * magnify, image.height * magnify))


def _coloring(image: Image.Image, step: Step) -> Image.Image:
    gray = image.convert("L")
    return ImageOps.colorize(gray, black=(20, 12, 40), white=(255, 244, 220), mid=(160, 110, 90))


def _enhance_ai(image: Image.Image, step: Step) -> Image.Image:
    out = image.convert("RGBA" if "A" in image.mode else "RGB")
    if int(step.get("denoise", "3")):
        out = out.filter(ImageFilter.MedianFilter(3))
    if int(step.get("sharpen", "3")):
        out = out.filter(ImageFilter.UnsharpMask(radius=2, percent=40 * int(step.get("sharpen", "3"))))
    return out


def _ai_crop(image: Image.Image, step: Step) -> Image.Image:
    w, h = max(1, round(float(step.get("width")))), max(1, round(float(step.get("height"))))
    scale = min(image.width / w, image.height / h)
    region = _gravity_box(image, max(1, round(w * scale)), max(1, round(h * scale)), "center")
    return _resize(region, (w, h)) if step.get("fixed", "0") == "1" else region


def _matting(image: Image.Image, step: Step) -> Image.Image:
    rgb = image.convert("RGB")
    corners: list[Any] = [rgb.getpixel(p) for p in ((0, 0), (rgb.width - 1, 0), (0, rgb.height - 1),
                                                    (rgb.width - 1, rgb.height - 1))]
    key = (sum(c[0] for c in corners) // 4, sum(c[1] for c in corners) // 4, sum(c[2] for c in corners) // 4)
    distance = ImageChops.difference(rgb, Image.new("RGB", rgb.size, key)).convert("L")
    alpha = distance.point(lambda v: 0 if v < 24 else min(255, v * 4))
    out = rgb.convert("RGBA")
    out.putalpha(alpha)
    padding = step.get("padding-layout")
    if step.get("center-layout") == "1" or padding:
        box = alpha.getbbox() or (0, 0, out.width, out.height)
        subject = out.crop(box)
        pad_x, _, pad_y = padding.partition("x") if padding else ("0", "", "0")
        canvas = Image.new("RGBA", (subject.width + 2 * int(pad_x or 0), subject.height + 2 * int(pad_y or 0)))
        canvas.paste(subject, (int(pad_x or 0), int(pad_y or 0)))
        out = canvas
    return out


def _watermark(image: Image.Image, step: Step) -> Image.Image:
    """watermark/2: the text drawn at its gravity (default southeast) and offsets with Pillow's built-in font."""
    text = b64_text(step.get("text"), "text")
    fill = b64_text(step.get("fill"), "fill") if step.get("fill") else "#3D3D3D"
    alpha = round(255 * int(step.get("dissolve", "90")) / 100)
    size = int(step.get("fontsize", "13"))
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left, bottom - top
    dx, dy = int(step.get("dx", "10")), int(step.get("dy", "10"))
    gravity = step.get("gravity", "southeast")
    x = {"west": dx, "east": base.width - w - dx}.get(gravity.replace("north", "").replace("south", ""),
                                                     (base.width - w) // 2)
    if gravity in ("north", "south", "center"):
        x = (base.width - w) // 2
    y = dy if gravity.startswith("north") else base.height - h - dy if gravity.startswith("south") else (
        base.height - h) // 2
    red, green, blue = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    draw.text((x - left, y - top), text, font=font, fill=(red, green, blue, alpha))
    out = Image.alpha_composite(base, layer)
    return out if "A" in image.mode else out.convert("RGB")


STEPS: dict[str, Callable[[Image.Image, Step], Image.Image]] = {
    "thumbnail": _thumbnail,
    "crop": _crop,
    "cut": _cut,
    "scrop": _scrop,
    "imageView2": _view2,
    "rotate": lambda im, s: im.convert("RGBA" if "A" in im.mode or im.mode == "P" else "RGB").rotate(
        -int(s.get("degrees")), expand=True, resample=Image.Resampling.BICUBIC),
    "auto-orient": lambda im, s: ImageOps.exif_transpose(im),
    "flip": lambda im, s: ImageOps.flip(im) if s.get("axis") == "vertical" else ImageOps.mirror(im),
    "blur": lambda im, s: im.filter(ImageFilter.GaussianBlur(float(s.get("sigma")))),
    "grayscale": lambda im, s: im.convert("LA" if "A" in im.mode else "L"),
    "bright": _enhance,
    "contrast": _enhance,
    "sharpen": lambda im, s: im.convert("RGB").filter(ImageFilter.UnsharpMask(percent=int(s.get("value")))),
    "iradius": _rounded,
    "rradius": _rounded,
    "AISuperResolution": _super_resolution,
    "AIImageColoring": _coloring,
    "AIEnhanceImage": _enhance_ai,
    "AIImageCrop": _ai_crop,
    "AIPicMatting": _matting,
    "AIPortraitMatting": _matting,
    "GoodsMatting": _matting,
    "watermark": _watermark,
    "blind-watermark": lambda im, s: im,
}
