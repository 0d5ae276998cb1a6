"""JSON Schema validation of documents (declarations, plans, ledgers). The only module that imports jsonschema.

Schemas ship inside the package (``reconciler/schemas/<name>.schema.json``, identical copies of the top-level
``schemas/`` folder) and are read with importlib.resources, so validation works from an installed wheel.
Every problem is reported (not just the first), each with the location of the offending node.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

Location = tuple[str | int, ...]


class SchemaNotFound(LookupError):
    """No schema of that name ships with the package."""


@dataclass(frozen=True)
class SchemaIssue:
    """One schema violation: where (``location`` as keys/indexes, ``key`` when it is about a mapping key)."""

    location: Location
    message: str
    key: bool = False

    @property
    def json_path(self) -> str:
        return json_path(self.location)


def json_path(location: Location) -> str:
    """``$.pipelines.thumbs.outputs["a.b"].rule`` / ``$.source.include[0]``."""
    out = ["$"]
    for part in location:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and all(c.isalnum() or c in "_-" for c in part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``<name>.schema.json`` shipped in the package (``name`` like "declaration")."""
    resource = resources.files("reconciler") / "schemas" / f"{name}.schema.json"
    try:
        text = resource.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise SchemaNotFound(f"no schema named {name!r} in the package") from exc
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_integer(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema counts 1.0 as an integer; in our documents an integer is written as one (``version: 1.0`` is not 1)
_Validator = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return _Validator(schema)


def schema_issues(name: str, data: Any) -> list[SchemaIssue]:
    """Every violation of schema ``name`` by ``data``, sorted by location."""
    issues: list[SchemaIssue] = []
    for error in _validator(name).iter_errors(data):
        issues.extend(_explain(error))
    unique = {(i.location, i.message, i.key): i for i in issues}
    return sorted(unique.values(), key=lambda i: ([str(p) for p in i.location], i.message))


def validate_document(name: str, data: Any) -> list[tuple[str, str]]:
    """Every violation of schema ``name`` by ``data`` as ``(json_path, message)`` pairs; empty when valid."""
    return [(issue.json_path, issue.message) for issue in schema_issues(name, data)]


def _explain(error: ValidationError) -> list[SchemaIssue]:
    loc: Location = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in schema.get("properties", {}) and not _pattern_ok(schema, k)]
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return [SchemaIssue(loc + (k,), f"unknown property {k!r}{hint}", key=True) for k in extras]
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        # jsonschema reports a bad mapping key at the mapping, with the key as the instance
        text = schema.get("x-error") or error.message
        return [SchemaIssue(loc + (error.instance,), f"name {error.instance!r}: {text}", key=True)]
    if error.validator == "required":
        return [SchemaIssue(loc, error.message.replace("is a required property", "is required"))]
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        return _explain(deepest)
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted = " or ".join(_KINDS.get(str(t), str(t)) for t in expected)
        return [SchemaIssue(loc, f"must be {wanted}, not {_describe(error.instance)}")]
    custom = schema.get("x-error")
    if isinstance(custom, str) and error.validator in ("pattern", "minLength", "maxLength", "not", "const"):
        return [SchemaIssue(loc, f"{_short(error.instance)}: {custom}")]
    return [SchemaIssue(loc, error.message)]


_KINDS = {"object": "a mapping", "array": "a list", "string": "a string", "boolean": "a boolean (true or false)",
          "integer": "an integer", "number": "a number", "null": "null"}


def _describe(value: Any) -> str:
    """A JSON value for messages: ``the string "yes"``, ``null``, ``a mapping``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    return "a list" if isinstance(value, list) else "a mapping"


def _pattern_ok(schema: dict[str, Any], key: str) -> bool:
    return any(re.search(p, key) for p in schema.get("patternProperties", {}))


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
