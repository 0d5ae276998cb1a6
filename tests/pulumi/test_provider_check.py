"""The provider's ``check``: the same messages as ``cosrecon validate``, as check failures; no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.pulumi.conftest import declaration_text

from reconciler.pulumi import engine
from reconciler.pulumi.provider import ProcessingSetProvider
from reconciler.declare.load import load_declarations
from reconciler.errors import DeclarationError

INVALID = {
    "not-yaml.yaml": "version: 1\nname: [unclosed\n",
    "empty.yaml": "",
    "a-list.yaml": "- 1\n- 2\n",
    "schema.yaml": "version: 1\nname: catalog\nregion: ap-guangzhou\nbucket: nobucket\npipelines: {}\n",
    "bad-rule.yaml": declaration_text(rule="imageMogr2/thumbnail/notageometry"),
    "bad-fileid.yaml": declaration_text().replace("/small/{dir}/{stem}.png", "/small/{nope}/"),
    "bad.json": '{"version": 1, "name": 3}',
}


def validate_messages(path: Path) -> list[str]:
    """What ``cosrecon validate`` reports for one file (it prints these, one per line)."""
    try:
        load_declarations([str(path)])
    except DeclarationError as error:
        return [str(p) for p in error.problems]
    return []


def props_for(path: Path, root: Path) -> dict[str, object]:
    source = engine.read_source(path, root)
    return {"declaration": source.document, "source_path": source.path, "source_text": source.text,
            "connection": engine.Connection().to_inputs()}


@pytest.mark.parametrize("filename", sorted(INVALID))
def test_check_fails_with_the_messages_of_validate(filename: str, write_declaration, tmp_path, monkeypatch) -> None:
    path = write_declaration(filename, INVALID[filename])
    monkeypatch.chdir(tmp_path)  # validate shows paths as given; the program gives paths relative to the project
    expected = validate_messages(path.relative_to(tmp_path))
    assert expected, "the fixture must be invalid"
    result = ProcessingSetProvider().check({}, props_for(path, tmp_path))
    assert [f.reason for f in result.failures] == expected
    assert all(f.property == "declaration" for f in result.failures)
    assert all(reason.startswith(f"decls/{filename}:") for reason in expected)


def test_check_passes_a_valid_declaration_and_returns_the_inputs(write_declaration, tmp_path) -> None:
    path = write_declaration("catalog.yaml", declaration_text())
    props = props_for(path, tmp_path)
    result = ProcessingSetProvider().check({}, props)
    assert result.failures == []
    assert result.inputs == props


def test_every_example_passes_check() -> None:
    root = Path(__file__).resolve().parents[2]
    files = engine.discover_files(root / "examples")
    if not files:
        pytest.skip("examples/ holds no declaration files")
    for path in files:
        assert ProcessingSetProvider().check({}, props_for(path, root)).failures == [], path


def test_check_without_text_is_a_failure_not_a_crash() -> None:
    result = ProcessingSetProvider().check({}, {"declaration": {"name": "x"}})
    assert [f.property for f in result.failures] == ["source_text"]


def test_check_leaves_unknown_inputs_to_a_later_check() -> None:
    from pulumi.runtime import rpc

    result = ProcessingSetProvider().check({}, {"source_text": rpc.UNKNOWN, "source_path": "x.yaml"})
    assert result.failures == []


def test_credentials_in_the_environment_do_not_matter_to_check(write_declaration, tmp_path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "irrelevant")  # not os.environ: the tests after it would see it
    path = write_declaration("catalog.yaml", declaration_text())
    assert ProcessingSetProvider().check({}, props_for(path, tmp_path)).failures == []


def test_configure_refuses_one_credential_of_two_and_errors_carry_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from reconciler.errors import StorageError, UsageError

    provider = ProcessingSetProvider()
    with pytest.raises(UsageError, match="cosrecon:secretKey is not"):
        provider.configure(SimpleNamespace(config={"cosrecon:secretId": "AKIDexample0000"}))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="cosrecon:securityToken contains") as bad:
        provider.configure(SimpleNamespace(config={  # type: ignore[arg-type]
            "cosrecon:secretId": "AKIDexample0000", "cosrecon:secretKey": "sk-0123456789abcdef",
            "cosrecon:securityToken": "tok-0123456789\n"}))
    assert "tok-0123456789" not in str(bad.value)
    provider.configure(SimpleNamespace(config={  # type: ignore[arg-type]
        "cosrecon:secretId": "AKIDexample0000", "cosrecon:secretKey": "sk-0123456789abcdef"}))

    def leaking(*_: object) -> None:
        raise StorageError("Invalid header value b'sk-0123456789abcdef'", code="ClientError")

    monkeypatch.setattr(engine, "apply_set", leaking)
    text = declaration_text()
    with pytest.raises(StorageError) as leaked:
        provider.create({"source_path": "decls/catalog.yaml", "source_text": text, "connection": {}})
    assert "sk-0123456789abcdef" not in str(leaked.value) and "<redacted>" in str(leaked.value)
