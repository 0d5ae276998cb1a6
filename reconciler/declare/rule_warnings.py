"""Warnings about a valid rule (PURE): what the cloud may refuse or ignore depending on settings cosrecon cannot read,
or what has no effect. Never errors: validate accepts everything the cloud may accept.

- AVIF, HEIF/HEIC and TPG output need image advanced compression enabled on the bucket first (436/42215); no API
  cosrecon uses reads that setting, so the warning is given whenever such a format is declared;
- a style name containing ``-`` or ``_``: CI's style separators may not occur in a style name when that separator is
  enabled on the bucket (the separators cannot be read either);
- ``quality`` (and ``rquality``/``lquality``/``q``) with PNG, BMP or GIF output: quality applies to JPG and WebP (and the
  advanced-compression formats) only (1045/33717, 1045/33726);
- ``iradius``/``rradius`` with GIF output: not supported for GIF (1045/33714).
"""

from __future__ import annotations

from reconciler.declare import operations as ops
from reconciler.declare.rules import ParsedRule, RuleError, parse_rule

ADVANCED_FORMATS = ("avif", "heif", "heic", "tpg")
SEPARATORS = ("-", "_")
_QUALITY_PARAMS = ("quality", "rquality", "lquality", "q", "rq", "lq")
_NO_QUALITY = ("png", "apng", "bmp", "gif")


def rule_warnings(rule: str, bucket: str) -> list[str]:
    """What to warn about ``rule`` writing to ``bucket`` (nothing for an invalid rule: validate reports that)."""
    try:
        parsed = parse_rule(rule)
    except RuleError:
        return []
    found: list[str] = []
    params = [(name, value) for op in parsed.operations for name, value in op.params]
    formats = [value.lower() for name, value in params if name == "format"]
    advanced = sorted({f for f in formats if f in ADVANCED_FORMATS})
    if advanced:
        found.append(f"format/{advanced[0]} needs image advanced compression enabled on bucket {bucket} first "
                     f"({ops.COMPRESSION}); cosrecon cannot read that setting: enable it in the CI console, or every "
                     "call with this rule is refused")
    style = _style(parsed)
    if style is not None and any(sep in style for sep in SEPARATORS):
        sep = next(s for s in SEPARATORS if s in style)
        found.append(f"style name {style!r} contains {sep!r}, one of CI's style separators: if that separator is "
                     f"enabled on bucket {bucket}, CI refuses the name ({ops.STYLES}); cosrecon cannot read the "
                     "bucket's separators")
    last = formats[-1] if formats else None
    if last in _NO_QUALITY and any(name in _QUALITY_PARAMS for name, _ in params):
        found.append(f"quality parameters have no effect with format/{last}: they apply to JPG and WebP only "
                     f"({ops.QUALITY})")
    if last == "gif" and any(name in ("iradius", "rradius") for name, _ in params):
        found.append(f"iradius and rradius are not supported for GIF ({ops.CROPPING})")
    return found


def _style(parsed: ParsedRule) -> str | None:
    op = parsed.operations[0]
    return op.mode if op.processor == "style" else None
