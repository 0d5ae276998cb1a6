"""Cloud Infinite rule grammar: parse, validate, normalise, fingerprint. Pure (no I/O).

A rule is ``style/<name>`` or one or more operations joined by ``|`` (at most 10): ``imageMogr2/...``,
``imageView2/...``, ``watermark/<1|2|3>/...``, ``imageSlim``, ``ci-process=<Op>&param=value``. Every parameter
and its documented range comes from the one table in ``declare.operations``; the local server builds its
processing steps from the ``ParsedRule`` this module returns, so validate and the server cannot disagree.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.declare import operations as ops

MAX_OPERATIONS = ops.MAX_OPERATIONS


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


# --- the table (declare.operations) ------------------------------------------------------------------

GRAVITIES = ops.GRAVITIES
FORMATS = ops.FORMATS
MOGR = ops.MOGR
VIEW = ops.VIEW_PARAMS
AI_OPS = ops.AI_OPS
RECOGNITION = ops.RECOGNITION


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


def style_name(rule: str) -> str | None:
    """The style a ``style/<name>`` rule names, or None for any other rule."""
    text = normalise_rule(rule)
    return text[len("style/"):] if text.startswith("style/") and "|" not in text else None


def styled(rule: str, styles: Mapping[str, str]) -> str:
    """What a rule means in a bucket with ``styles``: ``style/<name>`` with its definition appended (so its
    fingerprint changes when the style is redefined); any other rule, or an unknown style, as it is."""
    name = style_name(rule)
    if name is None or name not in styles:
        return rule
    return f"{normalise_rule(rule)}={normalise_rule(styles[name])}"


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
        if len(tokens) != 2 or not ops.STYLE_NAME.fullmatch(tokens[1]):
            raise RuleError("style/<name> takes one style name (letters, digits, '_', '-', '.')")
        return Operation(head, (), tokens[1])
    if head in ("imageSlim", "imageslim"):
        if len(tokens) > 1:
            raise RuleError(f"{head} takes no parameters")
        return Operation(head)
    known = ["imageMogr2", "imageView2", "watermark", "imageSlim", "style", "ci-process"]
    raise RuleError(f"unknown processor {_shown(head)}{_suggest(head, known)} (known: {', '.join(known)})")


def _shown(text: str) -> str:
    """A user's token in a message: quoted, and cut short when long (a 5,000-digit number stays readable)."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _mogr(tokens: list[str]) -> tuple[tuple[str, str], ...]:
    if not tokens:
        raise RuleError("imageMogr2 has no parameters")
    params: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        name = tokens[i]
        spec = MOGR.get(name)
        if spec is None:
            raise RuleError(f"unknown imageMogr2 parameter {_shown(name)}{_suggest(name, list(MOGR))}")
        if spec.check is None:
            params.append((name, ""))
            i += 1
            continue
        if i + 1 >= len(tokens) or tokens[i + 1] == "":
            raise RuleError(f"imageMogr2 {name} needs a value ({spec.expected})")
        value = tokens[i + 1]
        if not spec.check(value):
            what = "geometry" if name == "thumbnail" else "value"
            raise RuleError(f"malformed {name} {what} {_shown(value)} (expected {spec.expected})")
        params.append((name, value))
        i += 2
    return tuple(params)


def _view(tokens: list[str]) -> Operation:
    mode = ""
    if tokens and tokens[0] in ops.VIEW_MODES:
        mode, tokens = tokens[0], tokens[1:]
    elif not tokens or tokens[0] not in VIEW:
        got = _shown(tokens[0]) if tokens else "nothing"
        raise RuleError(f"imageView2 needs a mode 1-5 first, got {got}")
    pairs = _pairs(tokens, "imageView2")
    for name, value in pairs:
        spec = VIEW.get(name)
        if spec is None:
            raise RuleError(f"unknown imageView2 parameter {_shown(name)}{_suggest(name, list(VIEW))}")
        if spec.check is not None and not spec.check(value):
            raise RuleError(f"malformed imageView2 {name} value {_shown(value)} (expected {spec.expected})")
    names = {name for name, _ in pairs}
    if mode and not names & {"w", "h"}:
        raise RuleError(f"imageView2/{mode} needs w or h")
    if not mode and names & {"w", "h"}:
        raise RuleError("imageView2 needs a mode 1-5 before w or h")
    return Operation("imageView2", pairs, mode)


def _watermark(tokens: list[str]) -> Operation:
    if not tokens or tokens[0] not in ops.WATERMARK_TYPES:
        got = _shown(tokens[0]) if tokens else "nothing"
        raise RuleError(f"watermark needs a type first: 1 (image), 2 (text) or 3 (blind), got {got}")
    pairs = _pairs(tokens[1:], "watermark")
    if not pairs:
        raise RuleError("watermark has no parameters (image/..., text/..., ...)")
    kind = tokens[0]
    for name, value in pairs:
        spec = ops.WATERMARK_PARAMS.get(name)
        if spec is None:
            raise RuleError(f"unknown watermark parameter {_shown(name)}{_suggest(name, list(ops.WATERMARK_PARAMS))}")
        if spec.check is not None and not spec.check(value):
            raise RuleError(f"malformed watermark {name} {_shown(value)} (expected {spec.expected})")
    names = {name for name, _ in pairs}
    if kind == "1" and "image" not in names:
        raise RuleError("watermark/1 needs image (the watermark image's URL, URL-safe base64)")
    if kind == "2" and "text" not in names:
        raise RuleError("watermark/2 needs text (URL-safe base64)")
    return Operation("watermark", pairs, kind)


def _pairs(tokens: list[str], processor: str) -> tuple[tuple[str, str], ...]:
    if len(tokens) % 2:
        raise RuleError(f"{processor} parameter {_shown(tokens[-1])} has no value")
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
    op = AI_OPS.get(name)
    if op is None:
        raise RuleError(f"unknown AI operation {_shown(name)}{_suggest(name, list(AI_OPS))} (known: {', '.join(AI_OPS)})")
    params: list[tuple[str, str]] = []
    for item in rest:
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise RuleError(f"parameter {_shown(item)} of {name} is not name=value")
        spec = op.params.get(key)
        if spec is None:
            hint = f" (allowed: {', '.join(op.params)})" if op.params else f" ({name} takes no parameters)"
            raise RuleError(f"unknown parameter {_shown(key)} for {name}{_suggest(key, list(op.params))}{hint}")
        if spec.check is not None and not spec.check(value):
            raise RuleError(f"{name} {key}={_shown(value)} is not valid (expected {spec.expected})")
        params.append((key, value))
    missing = [r for r in op.required if r not in dict(params)]
    if missing:
        raise RuleError(f"{name} needs {' and '.join(missing)}")
    if name == "ImageRepair" and not {"MaskPic", "MaskPoly"} & set(dict(params)):
        raise RuleError("ImageRepair needs MaskPic or MaskPoly")
    return Operation("ci-process", tuple(params), name)


def _suggest(word: str, options: list[str]) -> str:
    if len(word) > 40:
        return ""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""
