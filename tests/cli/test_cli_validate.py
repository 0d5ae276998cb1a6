"""`cosrecon validate` through click's runner: summary and exit 0, every problem and exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "declarations" / "fixtures"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_valid_files_print_a_one_line_summary() -> None:
    code, out, err = _run(str(FIXTURES / "valid" / "minimal.yaml"), str(FIXTURES / "valid" / "full.json"))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"Valid: 2 sets, 2 pipelines, 3 outputs in 2 files ({FIXTURES / 'valid' / 'minimal.yaml'}, "
        f"{FIXTURES / 'valid' / 'full.json'})."
    ]


def test_examples_directory_is_valid() -> None:
    code, out, _ = _run(str(ROOT / "examples"))
    assert code == 0 and out.startswith("Valid: 3 sets")


def test_invalid_file_prints_every_problem_and_exits_1() -> None:
    path = FIXTURES / "invalid" / "rules-bad.yaml"
    code, out, err = _run(str(path))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[-1] == "Error: 7 problem(s) found."
    assert lines[0] == (f"{path}:11:15: $.pipelines.thumbs.outputs.processor.rule: unknown processor 'imageMogr' "
                        "(did you mean 'imageMogr2'?) (known: imageMogr2, imageView2, watermark, imageSlim, style, "
                        "ci-process)")
    assert all(line.startswith(f"{path}:") for line in lines[:-1])


def test_problems_in_several_paths_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "junk.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "list.yml").write_text("- 1\n")
    code, _, err = _run(str(tmp_path), str(tmp_path / "nope.yaml"), str(FIXTURES / "duplicate"))
    assert code == 1
    assert "junk.yaml:1:1: $: not UTF-8 text" in err
    assert "list.yml:1:1: $: a declaration is a mapping" in err
    assert "nope.yaml:1:1: $: no such file or directory" in err
    assert "two.yaml:2:7: $.name: set name 'shared-name' is already declared in" in err
    assert err.splitlines()[-1] == "Error: 4 problem(s) found."
    assert "Traceback" not in err


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    code, _, err = _run(str(tmp_path))
    assert code == 1
    assert err.splitlines() == [f"{tmp_path}:1:1: $: directory holds no declaration files (*.yaml, *.yml, *.json)",
                                "Error: 1 problem(s) found."]


def test_no_path_is_a_usage_error() -> None:
    # exit 1, not click's 2: --detailed-exitcode reserves 2 for "changes present"
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1 and "Missing argument" in result.stderr


def test_every_invalid_fixture_fails_cleanly() -> None:
    for path in sorted((FIXTURES / "invalid").iterdir()):
        code, out, err = _run(str(path))
        assert code == 1 and out == "", path
        assert err.splitlines()[-1].endswith("problem(s) found."), path
        assert "Traceback" not in err and "internal error" not in err, path


def test_schema_problems_do_not_hide_rule_and_template_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nname: x\nregion: ap-guangzhou\nbucket: Bad_Bucket\npipelines:\n  p:\n"
        "    source: {include: ['a/*.jpg']}\n    outputs:\n"
        "      o: {rule: imageMogr2/thumbnail/20xx, fileid: '/x/{stemm}.webp'}\n",
        encoding="utf-8",
    )
    code, _, err = _run(str(path))
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}:4:9: $.bucket: ")
    assert lines[1].startswith(f"{path}:9:") and "$.pipelines.p.outputs.o.rule: malformed thumbnail geometry '20xx'" in lines[1]
    assert lines[2].startswith(f"{path}:9:") and "$.pipelines.p.outputs.o.fileid: unknown template variable {stemm}" in lines[2]
    assert lines[3] == "Error: 3 problem(s) found."
