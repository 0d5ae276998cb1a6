"""Sources a plan would process that are likely not images (PURE): warned about before apply sends them to CI.

A source is suspect when its key's extension is not one CI reads as an image (``.txt``, ``.pdf``, no extension),
when the listing shows it empty (0 bytes), or — with ``plan --check-sources``, which reads the first bytes of a
sample of the sources (``sniffed``) — when its first bytes are no image format. One warning per pipeline, located at
its ``source.include``, naming a few keys and the count; CI would refuse their calls (-62999, the source is not an
image), so they are better fixed or excluded now. The warning names the sources, not the rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.declare.warnings import DeclarationWarning
from reconciler.model import Declaration, Plan

# extensions of the formats CI reads as images (input formats: JPG, PNG, GIF, WebP, BMP, TIFF, HEIF/HEIC, AVIF,
# TPG, ICO, PSD as the CI image processing overview lists them)
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "jpe", "png", "apng", "gif", "webp", "bmp", "tif", "tiff", "heif",
                              "heic", "avif", "tpg", "ico", "psd"})
UNSNIFFABLE = frozenset({"tpg"})  # image formats whose first bytes the sniffer does not know
SHOWN = 3  # keys named per pipeline


def extension(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[1].lower() if "." in name[1:] else ""


def why_suspect(key: str, size: int | None, sniffed: str | None) -> str | None:
    """Why ``key`` is likely not an image ("0 bytes", "extension .txt", "first bytes: pdf"), or None."""
    if size == 0:
        return "0 bytes"
    ext = extension(key)
    if sniffed is not None and sniffed not in IMAGE_EXTENSIONS and ext not in UNSNIFFABLE:
        return "first bytes: no image format" if sniffed == "unknown" else f"first bytes: {sniffed}"
    if ext not in IMAGE_EXTENSIONS:
        return f"extension .{ext}" if ext else "no extension"
    return None


def suspect_sources(decls: Sequence[Declaration], plan: Plan,
                    sniffed: Mapping[tuple[str, str], str] | None = None) -> list[DeclarationWarning]:
    """A warning per pipeline whose planned calls take sources that are likely not images. ``sniffed``: the format
    the first bytes of some sources show ((bucket, key) -> "png", "pdf", ..., "unknown")."""
    by_name = {d.name: d for d in decls}
    found = []
    for s in plan.sets:
        decl = by_name.get(s.name)
        if decl is None:
            continue
        suspects: dict[str, dict[str, None]] = {}  # pipeline -> "key (why)", in plan order
        for call, size in s.sized_calls():
            why = why_suspect(call.key, size, (sniffed or {}).get((call.bucket, call.key)))
            if why is None:
                continue
            pipelines = {op.address.split(".", 1)[0] for op in call.rules}
            for pipeline in pipelines:
                suspects.setdefault(pipeline, {})[f"{call.key} ({why})"] = None
        for pipeline, found_keys in suspects.items():
            keys = list(found_keys)
            more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
            found.append(DeclarationWarning(
                decl.path, f"$.pipelines.{pipeline}.source.include",
                f"{len(keys)} source{'s' if len(keys) > 1 else ''} likely not an image: "
                f"{', '.join(keys[:SHOWN])}{more}; CI refuses such a source (fix it, or exclude it with "
                "source.exclude)"))
    return found
