"""Pulumi.yaml and docs/pulumi.md agree with the program: the keys it reads are declared, the docs' stacks use them."""

from __future__ import annotations

import re

from conftest import PROGRAM_DIR
from ruamel.yaml import YAML

ROOT = PROGRAM_DIR.parent
READ_BY_PROGRAM = {"declarations", "endpoint", "stateDir", "localRoot", "lockTimeout", "maxQps", "parallelism"}
READ_BY_PROVIDER = {"secretId", "secretKey", "securityToken"}  # secrets: documented, never declared with defaults


def test_pulumi_yaml_names_the_program_and_declares_what_it_reads() -> None:
    project = YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == "cosrecon"
    assert project["runtime"]["name"] == "python"
    assert (ROOT / project["main"] / "__main__.py").is_file()
    assert set(project["config"]) == READ_BY_PROGRAM
    assert project["config"]["declarations"]["default"] == "examples/"
    source = (ROOT / "reconciler" / "pulumi" / "stack.py").read_text(encoding="utf-8")
    assert {m for m in re.findall(r'config\.get(?:_int)?\("(\w+)"\)', source)} == READ_BY_PROGRAM


def test_the_documented_stack_files_use_known_keys_only() -> None:
    doc = (ROOT / "docs" / "pulumi.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if b.startswith("config:")]
    assert len(blocks) >= 2
    for block in blocks:
        config = YAML(typ="safe").load(block)["config"]
        for key in config:
            namespace, _, name = key.partition(":")
            assert namespace == "cosrecon" and name in READ_BY_PROGRAM | READ_BY_PROVIDER, key
    for key in READ_BY_PROGRAM | READ_BY_PROVIDER:
        assert f"cosrecon:{key}" in doc
