"""Warnings about a valid declaration (PURE): things COS would accept that are probably not what was meant.

- a region COS does not list (a typo such as ``ap-guangzou`` makes every request fail or go elsewhere);
- a fileid whose literal extension contradicts the format the rule writes (``{stem}.jpg`` for ``format/webp``:
  COS writes WebP bytes under a ``.jpg`` key, served with the wrong content type).

- what ``declare.rule_warnings`` says about a rule (advanced compression, style separators, quality with PNG, ...).

Warnings never fail a command; ``validate`` and ``plan`` print them (and the markdown comment shows them).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from reconciler.declare.rule_warnings import rule_warnings
from reconciler.declare.rules import RuleError, parse_rule
from reconciler.model import Declaration

# COS regions as listed in "Regions and Access Endpoints" (https://www.tencentcloud.com/document/product/436/6224).
REGIONS = (
    "ap-beijing-1", "ap-beijing", "ap-nanjing", "ap-shanghai", "ap-guangzhou", "ap-chengdu", "ap-chongqing",
    "ap-shenzhen-fsi", "ap-shanghai-fsi", "ap-beijing-fsi", "ap-hongkong", "ap-singapore", "ap-mumbai", "ap-jakarta",
    "ap-seoul", "ap-bangkok", "ap-tokyo", "na-siliconvalley", "na-ashburn", "na-toronto", "sa-saopaulo",
    "eu-frankfurt", "eu-moscow",
)
# extensions that name each output format (a format not listed here is never warned about)
EXTENSIONS = {
    "jpg": ("jpg", "jpeg"), "jpeg": ("jpg", "jpeg"), "png": ("png",), "apng": ("png", "apng"), "bmp": ("bmp",),
    "webp": ("webp",), "tiff": ("tif", "tiff"), "gif": ("gif",), "avif": ("avif",), "heif": ("heif", "heic"),
    "heic": ("heic", "heif"), "tpg": ("tpg",),
}


@dataclass(frozen=True)
class DeclarationWarning:
    """``file: json.path: warning: message``."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: warning: {self.message}"


def output_format(rule: str) -> str | None:
    """The image format ``rule`` writes when it says (its last ``format/...`` parameter), else None."""
    try:
        parsed = parse_rule(rule)
    except RuleError:
        return None
    found = None
    for operation in parsed.operations:
        for name, value in operation.params:
            if name == "format":
                found = value.lower()
    return found


def literal_extension(fileid: str) -> str | None:
    """The extension a fileid template ends with when it is literal text (``{stem}.jpg`` -> ``jpg``)."""
    name = fileid.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    ext = name.rsplit(".", 1)[1]
    return None if not ext or "{" in ext or "}" in ext else ext.lower()


def declaration_warnings(decl: Declaration) -> list[DeclarationWarning]:
    """Every warning about ``decl``, in declaration order."""
    found = []
    if decl.region not in REGIONS:
        close = difflib.get_close_matches(decl.region, REGIONS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"COS regions: {', '.join(REGIONS)}"
        found.append(DeclarationWarning(decl.path, "$.region", f"{decl.region!r} is not a COS region; {hint}"))
    for pipeline in decl.pipelines:
        for output in pipeline.outputs:
            where = f"$.pipelines.{pipeline.name}.outputs.{output.name}"
            found += [DeclarationWarning(decl.path, where + ".rule", message)
                      for message in rule_warnings(output.rule, output.bucket or decl.bucket)]
            fmt, ext = output_format(output.rule), literal_extension(output.fileid)
            if fmt in EXTENSIONS and ext is not None and ext not in EXTENSIONS[fmt]:
                found.append(DeclarationWarning(
                    decl.path, f"$.pipelines.{pipeline.name}.outputs.{output.name}.fileid",
                    f"fileid {output.fileid!r} ends in .{ext} but the rule writes {fmt} (format/{fmt})"))
    return found
