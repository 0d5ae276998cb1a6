"""Persistent processing (Pic-Operations) for the local server: parse the header, resolve fileids, run rules.

fileid semantics as COS documents them: a leading ``/`` is a key from the bucket root; otherwise the fileid is
relative to the SOURCE OBJECT'S DIRECTORY; it must not end with ``/``. ``bucket`` names the destination.
Every rule is computed before any output is written, so a failing rule writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from reconciler import model
from reconciler.local import imaging
from reconciler.local.replies import ProcessedResult
from reconciler.local.ruleparse import Pipeline, RuleError, parse_rule

MAX_RULES = 5


@dataclass(frozen=True)
class PicRule:
    """One rule of a Pic-Operations header, resolved: destination bucket and key, and the parsed rule."""

    bucket: str
    key: str
    rule: str
    pipeline: Pipeline


@dataclass(frozen=True)
class PicOperations:
    """A parsed Pic-Operations header."""

    is_pic_info: bool
    rules: tuple[PicRule, ...]


def resolve_fileid(source_key: str, fileid: str) -> str:
    """The output key of ``fileid`` for ``source_key``; raises RuleError for an unusable fileid."""
    if not fileid or fileid.endswith("/"):
        raise RuleError(f"fileid {fileid!r}: must name a file (not empty, not ending with '/')")
    if "\x00" in fileid:
        raise RuleError("fileid contains a NUL character")
    key = model.resolve_fileid(source_key, fileid)
    if not key:
        raise RuleError(f"fileid {fileid!r}: resolves to an empty key")
    if len(key.encode("utf-8")) > 850:
        raise RuleError(f"fileid {fileid!r}: the key is longer than 850 bytes")
    return key


def parse_pic_operations(header: str, source_bucket: str, source_key: str) -> PicOperations:
    """Parse and validate a Pic-Operations header; raises RuleError naming the bad part."""
    try:
        doc = json.loads(header)
    except ValueError as exc:
        raise RuleError(f"Pic-Operations is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RuleError("Pic-Operations must be a JSON object")
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RuleError("Pic-Operations.rules must be an array")
    if len(raw_rules) > MAX_RULES:
        raise RuleError(f"Pic-Operations has {len(raw_rules)} rules; at most {MAX_RULES} are allowed")
    try:
        pic_info = int(doc.get("is_pic_info", 0)) == 1
    except (TypeError, ValueError):
        raise RuleError("Pic-Operations.is_pic_info must be 0 or 1") from None
    rules = []
    for index, item in enumerate(raw_rules):
        where = f"rules[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("rule"), str) or not isinstance(
                item.get("fileid"), str):
            raise RuleError(f"{where}: needs string fields 'fileid' and 'rule'")
        bucket = item.get("bucket") or source_bucket
        if not isinstance(bucket, str):
            raise RuleError(f"{where}.bucket must be a string")
        try:
            pipeline = parse_rule(item["rule"])
            key = resolve_fileid(source_key, item["fileid"])
        except RuleError as exc:
            raise RuleError(f"{where}: {exc}") from None
        rules.append(PicRule(bucket, key, item["rule"], pipeline))
    return PicOperations(pic_info, tuple(rules))


@dataclass(frozen=True)
class RenderedOutput:
    """One computed output, ready to be written."""

    rule: PicRule
    output: imaging.Output


def render(source: bytes, operations: PicOperations) -> list[RenderedOutput]:
    """Run every rule on the source bytes (raises RuleError or imaging.NotAnImage)."""
    return [RenderedOutput(rule, imaging.process(source, rule.pipeline)) for rule in operations.rules]


def result_entry(rendered: RenderedOutput, location: str) -> ProcessedResult:
    """ProcessResults/Object: the ETag is 40 hex digits (SHA-1 of the body), as in the CI docs' examples —
    NOT the quoted MD5 a later HEAD or listing shows."""
    out = rendered.output
    return ProcessedResult(rendered.rule.key, location, out.info.format, out.info.width, out.info.height,
                           len(out.data), out.info.quality, hashlib.sha1(out.data).hexdigest())


def image_info(source: bytes) -> dict[str, object]:
    info = imaging.describe(source)
    return {"Format": info.format, "Width": info.width, "Height": info.height, "Quality": info.quality,
            "Ave": info.ave, "Orientation": info.orientation}
