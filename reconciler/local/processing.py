"""Persistent processing (Pic-Operations) for the local server: parse the header, resolve fileids, run rules.

fileid semantics as CI documents them (zh 1045/73025 and the seed document): the fileid arrives URL-encoded and
is percent-decoded (a ``%`` not followed by two hex digits, or bytes that are not UTF-8, is refused); then
``model.resolve_fileid`` gives the key, the same function the planner uses: a leading ``/`` is a key
from the bucket root, a fileid equal to the source's key overwrites the source (rule 4), otherwise it is
relative to the SOURCE OBJECT'S DIRECTORY; it must not end with ``/``. ``bucket`` names the destination.
Every rule is computed before any output is written, so a failing rule writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from reconciler.model import resolve_fileid as resolve_key

from reconciler.local import imaging
from reconciler.local.replies import ProcessedResult
from reconciler.local.ruleparse import Pipeline, RuleError, TooManyRules, parse_rule

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


def decode_fileid(fileid: str) -> str:
    """The fileid as sent, percent-decoded; raises RuleError for one that is not valid URL encoding."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", fileid):
        raise RuleError(f"fileid {fileid!r}: not URL-encoded (a '%' must be followed by two hex digits)")
    try:
        return unquote_to_bytes(fileid).decode("utf-8")
    except UnicodeError:
        raise RuleError(f"fileid {fileid!r}: its URL encoding does not decode to UTF-8") from None


def resolve_fileid(source_key: str, fileid: str) -> str:
    """The output key of ``fileid`` (as sent, URL-encoded) for ``source_key``; raises RuleError for an unusable
    fileid."""
    decoded = decode_fileid(fileid)
    if not decoded or decoded.endswith("/"):
        raise RuleError(f"fileid {fileid!r}: must name a file (not empty, not ending with '/')")
    if "\x00" in decoded or any(0xD800 <= ord(ch) <= 0xDFFF for ch in decoded):
        raise RuleError("fileid contains a NUL character or a lone surrogate")
    key = resolve_key(source_key, decoded)
    if not key:
        raise RuleError(f"fileid {fileid!r}: resolves to an empty key")
    if len(key.encode("utf-8")) > 850:
        raise RuleError(f"fileid {fileid!r}: the key is longer than 850 bytes")
    return key


def parse_pic_operations(header: str, source_bucket: str, source_key: str,
                         styles: Mapping[str, str] | None = None, *, advanced_compression: bool = True) -> PicOperations:
    """Parse and validate a Pic-Operations header; raises RuleError naming the bad part. ``styles`` are the
    source bucket's image styles (name -> definition), for ``style/<name>`` rules."""
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
        raise TooManyRules(f"Pic-Operations has {len(raw_rules)} rules; at most {MAX_RULES} are allowed")
    try:
        pic_info = int(doc.get("is_pic_info", 0)) == 1
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity (json.loads accepts it)
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
            pipeline = parse_rule(item["rule"], styles, advanced_compression=advanced_compression)
            key = resolve_fileid(source_key, item["fileid"])
        except RuleError as exc:  # the same kind (its culprit picks CI's code), located
            raise type(exc)(f"{where}: {exc}") from None
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
    """ProcessResults/Object: the ETag is the output's quoted MD5, like the seed document's example (other CI
    pages show 40 hex digits: clients must not rely on either)."""
    out = rendered.output
    return ProcessedResult(rendered.rule.key, location, out.info.format, out.info.width, out.info.height,
                           len(out.data), out.info.quality, '"' + hashlib.md5(out.data).hexdigest() + '"')


def image_info(source: bytes) -> dict[str, object]:
    info = imaging.describe(source)
    return {"Format": info.format, "Width": info.width, "Height": info.height, "Quality": info.quality,
            "Ave": info.ave, "Orientation": info.orientation}
