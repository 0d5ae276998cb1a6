"""The Pulumi program under ``pulumi.runtime.set_mocks``: one resource per processing set, with the expected inputs.

The Pulumi CLI cannot run here; the mocks stand in for the engine, and the real ``pulumi_program/__main__.py`` is run
as Pulumi runs it (``runpy``), with stack config set as ``Pulumi.<stack>.yaml`` would set it.
"""

from __future__ import annotations

import base64
import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from conftest import PROGRAM_DIR, declaration_text

SECRET_KEY = "sk-never-in-state-0123456789"
RESOURCE_TYPE = "pulumi-python:dynamic/cosrecon:ProcessingSet"


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registered resource; outputs echo the inputs (ids are the names)."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def run_program(config: dict[str, str], secret_keys: list[str] | None = None) -> RecordingMocks:
    """Run ``pulumi_program/__main__.py`` under mocks with ``config``; wait for every registration."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="cosrecon", stack="test", preview=False)
    pulumi.runtime.set_all_config(config, secret_keys or [])

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(PROGRAM_DIR / "__main__.py"), run_name="__main__")
        return pulumi.Output.from_input(None)

    program()
    return mocks


def sets(mocks: RecordingMocks) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in mocks.resources if r.typ == RESOURCE_TYPE}


def test_one_resource_per_set_with_the_declaration_as_inputs(write_declaration, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    write_declaration("catalog.yaml", declaration_text("catalog"))
    write_declaration("nested/banners.yml", declaration_text("banners", "banners-1250000000"))
    mocks = run_program({
        "cosrecon:declarations": str(tmp_path / "decls"),
        "cosrecon:endpoint": "http://127.0.0.1:9000",
        "cosrecon:stateDir": "state",
        "cosrecon:lockTimeout": "30",
        "cosrecon:maxQps": "50",
        "cosrecon:secretKey": SECRET_KEY,
    }, secret_keys=["cosrecon:secretKey"])

    found = sets(mocks)
    assert sorted(found) == ["banners", "catalog"]  # one resource per set, named after it
    assert len([r for r in mocks.resources if r.typ == RESOURCE_TYPE]) == 2  # never one per object
    catalog = found["catalog"]
    assert catalog["declaration"]["name"] == "catalog"
    assert catalog["declaration"]["pipelines"]["thumbnails"]["outputs"]["thumb-200"]["rule"] == \
        "imageMogr2/thumbnail/200x/format/webp"
    assert catalog["source_text"] == declaration_text("catalog")
    assert catalog["source_path"].endswith("decls/catalog.yaml")
    assert catalog["connection"] == {"endpoint": "http://127.0.0.1:9000", "local_root": "",
                                     "state_dir": str(PROGRAM_DIR.parent / "state")}  # absolute: see stack.py
    assert catalog["apply_settings"] == {"lock_timeout": 30.0, "max_qps": 50.0, "parallelism": 16}
    assert "__provider" in catalog  # the pickled provider travels with the resource, as Pulumi stores it


def test_no_secret_reaches_inputs_or_the_pickled_provider(write_declaration, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    write_declaration("catalog.yaml", declaration_text("catalog"))
    mocks = run_program({"cosrecon:declarations": str(tmp_path / "decls"), "cosrecon:secretKey": SECRET_KEY},
                        secret_keys=["cosrecon:secretKey"])
    inputs = sets(mocks)["catalog"]
    provider_blob = inputs.pop("__provider")
    if isinstance(provider_blob, dict):  # Pulumi marks the serialized provider secret: {<sig>: ..., "value": ...}
        provider_blob = provider_blob["value"]
    assert SECRET_KEY not in json.dumps(inputs)
    pickled = base64.b64decode(provider_blob)
    assert SECRET_KEY.encode() not in pickled
    assert b"reconciler.pulumi.provider" in pickled  # by reference to the installed package, importable anywhere
    assert len(pickled) < 1000  # no client, lock or thread captured: the class reference and an empty state


def test_defaults_to_examples_folder_relative_to_the_project(monkeypatch) -> None:
    examples = PROGRAM_DIR.parent / "examples"
    declared = [p for p in examples.rglob("*") if p.suffix in (".yaml", ".yml", ".json")]
    if not declared:
        pytest.skip("examples/ holds no declaration files yet (another issue adds them)")
    mocks = run_program({})
    assert len(sets(mocks)) >= 1
    assert all(not Path(i["source_path"]).is_absolute() for i in sets(mocks).values())
    assert all(i["source_path"].startswith("examples/") for i in sets(mocks).values())


def test_a_glob_selects_files_and_an_invalid_file_still_registers_for_check(write_declaration, tmp_path) -> None:
    write_declaration("catalog.yaml", declaration_text("catalog"))
    write_declaration("broken.yaml", "version: 1\nname: [unclosed\n")
    write_declaration("other.json", json.dumps({"version": 1}))
    mocks = run_program({"cosrecon:declarations": str(tmp_path / "decls" / "*.yaml")})
    found = sets(mocks)
    assert sorted(found) == ["broken", "catalog"]  # the glob left other.json out; broken named after its file
    assert found["broken"].get("declaration") is None  # Pulumi drops None inputs
    assert found["broken"]["source_text"].startswith("version: 1")


def test_two_files_declaring_one_set_fail_the_program(write_declaration, tmp_path) -> None:
    write_declaration("a.yaml", declaration_text("catalog"))
    write_declaration("b.yaml", declaration_text("catalog"))
    with pytest.raises(Exception, match="already declared"):
        run_program({"cosrecon:declarations": str(tmp_path / "decls")})


def test_a_directory_is_searched_exactly_as_cosrecon_validate_searches_it() -> None:
    from reconciler.pulumi import engine
    from reconciler.declare.load import load_declarations

    examples = PROGRAM_DIR.parent / "examples"
    validated = sorted(Path(d.path).resolve() for d in load_declarations([str(examples)]))
    assert validated, "examples/ holds declarations"
    assert sorted(p.resolve() for p in engine.discover_files(examples)) == validated
