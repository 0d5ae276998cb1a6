"""The command line itself: every option described with a sensible metavar, durations like 1h30m, endpoint typos
as one clear line, and the README's synopses matching the commands' usage lines."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cli.durations import parse_duration

ROOT = Path(__file__).resolve().parents[2]
CLICK_DEFAULT_METAVARS = {"INTEGER", "FLOAT", "TEXT", "INTEGER RANGE", "FLOAT RANGE", "DIRECTORY", "PATH", "FILENAME"}
DECL = """\
version: 1
name: shop
region: ap-guangzhou
bucket: shop-1250000000
pipelines: {}
"""


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    found = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            found += commands(cmd, (*prefix, name))
        else:
            found.append((" ".join((*prefix, name)), cmd))
    return found


@pytest.mark.parametrize(("name", "command"), commands(), ids=[n for n, _ in commands()])
def test_every_option_has_a_description_and_metavar(name: str, command: click.Command) -> None:
    ctx = click.Context(command, info_name=name)
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        spec, text = param.get_help_record(ctx) or ("", "")
        assert text.strip(), f"cosrecon {name} {param.opts[0]}: no description"
        if not param.is_flag:
            metavar = spec.split(", ")[-1].split(" ", 1)[1]
            assert metavar not in CLICK_DEFAULT_METAVARS, f"cosrecon {name} {param.opts[0]}: metavar {metavar}"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("5m", 300), ("1h", 3600),
                                               ("1h30m", 5400), ("2m30s", 150), ("1.5h", 5400), (" 10s ", 10)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_lock_timeout_takes_1h30m_and_refuses_nonsense(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(DECL, encoding="utf-8")
    assert "--lock-timeout DURATION" in CliRunner().invoke(main, ["apply", "--help"]).output
    result = CliRunner().invoke(main, ["apply", str(tmp_path), "--lock-timeout", "1h30", "--state-dir",
                                       str(tmp_path / "s"), "--endpoint", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "'1h30': expected a duration such as 90, 30s, 5m, 1h or 1h30m" in result.output


@pytest.mark.parametrize(("endpoint", "message"), [
    ("htp://127.0.0.1:9000", "the scheme must be http or https, not 'htp' (e.g. http://127.0.0.1:9000)"),
    ("http://127.0.0.1:99999", "the port must be a number from 1 to 65535"),
    ("http://127.0.0.1:x", "the port must be a number from 1 to 65535"),
    ("http://127.0.0.1:9000 ", "contains spaces; expected a URL such as http://127.0.0.1:9000"),
    ("http://127.0.0.1:9000/cos", "give only scheme, host and port (e.g. http://127.0.0.1:9000); COS endpoints have "
                                  "no path, query or user"),
    ("http://", "no host; expected a URL such as http://127.0.0.1:9000"),
])
def test_endpoint_typos_are_one_clear_line(tmp_path: Path, endpoint: str, message: str) -> None:
    (tmp_path / "shop.yaml").write_text(DECL, encoding="utf-8")
    for env, args in (({}, ["--endpoint", endpoint]), ({"COSRECON_ENDPOINT": endpoint}, [])):
        result = CliRunner().invoke(main, ["plan", str(tmp_path), *args], env=env)
        assert result.exit_code == 1
        assert result.stderr == f"Error: --endpoint {endpoint!r}: {message}\n"


def test_readme_synopses_match_the_usage_lines() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    synopses = re.findall(r"^\| `(cosrecon [a-z]+(?: [a-z-]+)?) ([^`]*)`", readme, re.MULTILINE)
    assert synopses
    for command, arguments in synopses:
        words = command.split()[1:]
        usage = CliRunner().invoke(main, [*words, "--help"], prog_name="cosrecon").output.splitlines()[0]
        expected = [a for a in arguments.split() if not a.startswith("-") and a.isupper() or a.endswith("...")]
        assert usage.startswith(f"Usage: {command} "), usage
        for argument in expected:
            assert argument in usage, f"README `{command} {arguments}` vs {usage!r}"


def test_apply_says_paths_are_required(tmp_path: Path) -> None:
    usage = CliRunner().invoke(main, ["apply", "--help"], prog_name="cosrecon").output.splitlines()[0]
    assert usage == "Usage: cosrecon apply [OPTIONS] PATH..."
    result = CliRunner().invoke(main, ["apply", "--plan", str(tmp_path / "plan.json")])
    assert result.exit_code == 1 and "Missing argument 'PATH...'" in result.output
