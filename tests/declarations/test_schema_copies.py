"""The JSON Schemas in schemas/ ship inside the package unchanged, and they are sound 2020-12 schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.declare.schemas import load_schema, validate_document

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_schema_has_an_identical_copy_in_the_package() -> None:
    top = {p.name: p.read_bytes() for p in (ROOT / "schemas").glob("*.json")}
    shipped = {p.name: p.read_bytes() for p in (ROOT / "reconciler" / "schemas").glob("*.json")}
    assert "declaration.schema.json" in top
    assert top == shipped


def test_declaration_schema_is_2020_12_with_id_and_descriptions() -> None:
    schema = load_schema("declaration")
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    missing: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if "description" not in prop:
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(schema, "#")
    assert missing == []


def test_objects_that_catch_typos_forbid_additional_properties() -> None:
    schema = load_schema("declaration")
    defs = schema["$defs"]
    for node in (schema, schema["properties"]["state"], defs["pipeline"], defs["pipeline"]["properties"]["source"],
                 defs["output"]):
        assert node["additionalProperties"] is False


def test_validate_document_returns_json_paths_and_messages() -> None:
    assert validate_document("declaration", json.loads((ROOT / "tests/declarations/fixtures/valid/full.json")
                                                       .read_text())) == []
    problems = validate_document("declaration", {"version": 1, "name": "x", "region": "ap-guangzhou",
                                                  "bucket": "b-1250000000", "pipelines": {"p": {"sorce": {}}}})
    assert ("$.pipelines.p.sorce", "unknown property 'sorce' (allowed: description, outputs, source)") in problems
    assert ("$.pipelines.p", "'source' is required") in problems
