"""Declaration fixtures: every valid one loads; every invalid one yields exactly the problems it lists."""

from __future__ import annotations

import builtins
import json
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.declare.load import declaration_digest, load_declaration, load_declarations
from reconciler.errors import DeclarationError, Problem
from reconciler.model import StateLocation

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VALID = sorted(p for p in (FIXTURES / "valid").iterdir() if p.suffix in (".yaml", ".json"))
INVALID = sorted(p for p in (FIXTURES / "invalid").iterdir() if p.suffix in (".yaml", ".json"))
_EXPECT = re.compile(r"^# expect: (\d+):(\d+) (\$\S*): (.+)$")
# files that cannot carry a comment
EXPECTED_ELSEWHERE = {
    "empty.yaml": [(1, 1, "$", "empty file")],
    "binary-junk.yaml": [(1, 1, "$", "not UTF-8 text")],
    "unclosed.json": [(2, 1, "$", "invalid JSON")],
}


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(DeclarationError) as info:
        load_declarations([path])
    return info.value.problems


def _expected(path: Path) -> list[tuple[int, int, str, str]]:
    if path.name in EXPECTED_ELSEWHERE:
        return EXPECTED_ELSEWHERE[path.name]
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _EXPECT.match(line)
        if m:
            found.append((int(m[1]), int(m[2]), m[3], m[4]))
    return found


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixture_loads(path: Path) -> None:
    [decl] = load_declarations([path])
    assert decl.path == str(path)
    assert decl.pipelines and all(p.outputs for p in decl.pipelines)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixture_reports_exactly_its_problems(path: Path) -> None:
    expected = _expected(path)
    assert expected, f"{path.name} lists no expected problems"
    problems = _problems(path)
    got = [(p.line, p.column, p.path) for p in problems]
    assert sorted(got) == sorted((line, col, jp) for line, col, jp, _ in expected), "\n".join(map(str, problems))
    for line, col, jp, excerpt in expected:
        messages = [p.message for p in problems if (p.line, p.column, p.path) == (line, col, jp)]
        assert any(excerpt in m for m in messages), (excerpt, messages)
    for problem in problems:
        assert problem.file == str(path)
        assert str(problem).startswith(f"{path}:{problem.line}:{problem.column}: {problem.path}: ")


def test_all_invalid_files_are_reported_in_one_run() -> None:
    with pytest.raises(DeclarationError) as info:
        load_declarations([FIXTURES / "invalid"])
    files = {Path(p.file).name for p in info.value.problems}
    assert files == {p.name for p in INVALID}


def test_duplicate_set_names_across_files() -> None:
    problems = _problems(FIXTURES / "duplicate")
    assert len(problems) == 1
    [problem] = problems
    assert problem.file.endswith("two.yaml") and (problem.line, problem.column, problem.path) == (2, 7, "$.name")
    assert "'shared-name' is already declared in" in problem.message and "one.yaml:2:7" in problem.message


def test_the_same_file_given_twice_is_loaded_once() -> None:
    one = FIXTURES / "duplicate" / "one.yaml"
    assert len(load_declarations([one, one, str(one)])) == 1


def test_missing_path_and_empty_directory_are_problems(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a declaration")
    problems = _problems(tmp_path / "missing.yaml") + _problems(tmp_path)
    assert [p.message for p in problems] == [
        "no such file or directory",
        "directory holds no declaration files (*.yaml, *.yml, *.json)",
    ]


def test_unreadable_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("version: 1\n")
    real = builtins.open

    def deny(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("secret.yaml"):
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    [problem] = _problems(path)
    assert (problem.file, problem.path, problem.message) == (str(path), "$", "cannot read file: Permission denied")


def test_problems_across_files_and_checks_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text((FIXTURES / "invalid" / "key-dotdot.yaml").read_text())
    (tmp_path / "b.json").write_text("[1, 2]")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yml").write_text("version: [")
    problems = _problems(tmp_path)
    assert [Path(p.file).name for p in problems] == ["a.yaml", "b.json", "c.yml"]


def test_hidden_directories_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".cosrecon").mkdir()
    (tmp_path / ".cosrecon" / "ledger.json").write_text("{}")
    (tmp_path / "set.yaml").write_text((FIXTURES / "valid" / "minimal.yaml").read_text())
    assert [d.name for d in load_declarations([tmp_path])] == ["minimal"]


def test_declaration_values() -> None:
    decl = load_declaration(FIXTURES / "valid" / "minimal.yaml")
    assert decl.name == "minimal" and decl.region == "ap-guangzhou" and decl.version == 1
    assert decl.state == StateLocation(bucket="examplebucket-1250000000", prefix=".cosrecon/")
    assert decl.prune is False
    [pipeline] = decl.pipelines
    assert pipeline.source.include == ("photos/*.jpg",) and pipeline.source.exclude == ()
    [output] = pipeline.outputs
    assert (output.name, output.rule, output.fileid, output.bucket) == (
        "small", "imageMogr2/thumbnail/200x", "/thumbs/{stem}.jpg", None)
    assert decl.output_bucket(output) == "examplebucket-1250000000"
    assert decl.address(pipeline, output) == "thumbs.small"
    # the document is plain JSON data
    assert json.loads(json.dumps(decl.document)) == decl.document
    assert type(decl.document["pipelines"]) is dict and type(decl.document["name"]) is str


def test_json_declaration_with_state_and_second_bucket() -> None:
    decl = load_declaration(FIXTURES / "valid" / "full.json")
    assert decl.state == StateLocation(bucket="ledgers-1250000000", prefix="sets/from-json/")
    assert decl.prune is True
    outputs = {o.name: o for o in decl.pipelines[0].outputs}
    assert outputs["cdn"].bucket == "cdn-1250000000" and outputs["webp"].bucket is None


def test_declaration_digest_is_stable_and_tracks_content(tmp_path: Path) -> None:
    text = (FIXTURES / "valid" / "minimal.yaml").read_text()
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    a.write_text(text)
    b.write_text("# a comment and other formatting\n" + text.replace("  ", "    "))
    c.write_text(text.replace("200x", "300x"))
    da, db, dc = (declaration_digest(load_declaration(p)) for p in (a, b, c))
    assert da == db != dc
    assert re.fullmatch(r"[0-9a-f]{64}", da)
