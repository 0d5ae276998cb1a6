"""Declarations refuse what would hide or escape: control characters, trailing newlines, ``version: 1.0``, ledger
prefixes with ``.``/``..`` or that overlap the sources, numbers too long to read, documents nested too deeply;
each with a located message, never an exception."""

from __future__ import annotations

import json

import pytest

from reconciler.declare.load import load_text
from reconciler.errors import Problem

GOOD = {
    "version": 1, "name": "shop", "region": "ap-guangzhou", "bucket": "shop-1250000000",
    "pipelines": {"p": {"source": {"include": ["photos/*.jpg"]},
                        "outputs": {"o": {"rule": "imageMogr2/strip", "fileid": "/thumbs/{name}"}}}},
}


def _problems(data: object) -> list[Problem]:
    decl, problems, _ = load_text(json.dumps(data), "set.json")
    assert (decl is None) == bool(problems)
    return problems


def _with(path: tuple[str | int, ...], value: object) -> dict[str, object]:
    data = json.loads(json.dumps(GOOD))
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return data


def test_the_good_declaration_loads() -> None:
    assert _problems(GOOD) == []


HOSTILE = [
    (("name",), "shop\n", "$.name"),
    (("bucket",), "shop-1250000000\n", "$.bucket"),
    (("region",), "ap-guangzhou\n", "$.region"),
    (("pipelines", "p", "source", "include"), ["photos/\x1b[31m*.jpg"], "$.pipelines.p.source.include[0]"),
    (("pipelines", "p", "source", "exclude"), ["photos/a\nb"], "$.pipelines.p.source.exclude[0]"),
    (("pipelines", "p", "outputs", "o", "fileid"), "/thumbs/{name}\t", "$.pipelines.p.outputs.o.fileid"),
    (("pipelines", "p", "outputs", "o", "fileid"), "/thumbs/\u202e{name}", "$.pipelines.p.outputs.o.fileid"),
    (("pipelines", "p", "outputs", "o", "rule"), "imageMogr2/strip\r", "$.pipelines.p.outputs.o.rule"),
    (("state",), {"prefix": ".cosrecon/\x7f/"}, "$.state.prefix"),
    (("state",), {"prefix": ".cosrecon/\n"}, "$.state.prefix"),
    (("state",), {"prefix": "../"}, "$.state.prefix"),
    (("state",), {"prefix": "./"}, "$.state.prefix"),
    (("state",), {"prefix": "state/../"}, "$.state.prefix"),
    (("state",), {"prefix": "state//"}, "$.state.prefix"),
    (("version",), 1.0, "$.version"),
    (("version",), True, "$.version"),
]


@pytest.mark.parametrize(("path", "value", "where"), HOSTILE)
def test_hostile_values_are_refused_where_they_stand(path: tuple[str, ...], value: object, where: str) -> None:
    problems = _problems(_with(path, value))
    assert {p.path for p in problems} == {where}, problems


def test_a_name_with_a_trailing_newline_from_a_yaml_block_is_refused() -> None:
    text = "version: 1\nname: |\n  shop\nregion: ap-guangzhou\nbucket: shop-1250000000\npipelines:\n  p:\n" \
           "    source: {include: ['a/*.jpg']}\n    outputs:\n      o: {rule: imageMogr2/strip, fileid: 'x/{name}'}\n"
    decl, problems, _ = load_text(text, "set.yaml")
    assert decl is None
    assert [(p.line, p.path) for p in problems] == [(2, "$.name")]


def test_mapping_keys_with_a_trailing_newline_are_refused() -> None:
    data = _with(("pipelines",), {"p\n": GOOD["pipelines"]["p"]})  # type: ignore[index]
    assert [p.path for p in _problems(data)] == ['$.pipelines["p\\n"]']


@pytest.mark.parametrize(("include", "exclude", "where"), [
    (["**"], [], "$.state.prefix"),  # the sources' globs would select the ledger's objects
    ([".cosrecon/**/*.jpg"], [], "$.pipelines.p.source.include[0]"),  # a glob under the ledger selects nothing
])
def test_a_ledger_prefix_overlapping_the_sources_is_refused(include: list[str], exclude: list[str], where: str) -> None:
    data = _with(("pipelines", "p", "source"), {"include": include, "exclude": exclude})
    assert where in [p.path for p in _problems(data)]


def test_a_ledger_prefix_the_sources_exclude_is_fine() -> None:
    data = _with(("pipelines", "p", "source"), {"include": ["**/*.jpg"], "exclude": [".cosrecon/**"]})
    data["pipelines"]["p"]["outputs"]["o"]["fileid"] = "/thumbs/{stem}.webp"  # type: ignore[index]
    assert _problems(data) == []
    other = _with(("state",), {"bucket": "state-1250000000"})
    other["pipelines"]["p"]["source"]["include"] = ["**"]  # type: ignore[index]
    other["pipelines"]["p"]["source"]["exclude"] = ["thumbs/**"]  # type: ignore[index]
    assert _problems(other) == []  # the ledger lives in another bucket


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_number_too_long_to_read_is_a_located_problem(suffix: str) -> None:
    text = json.dumps(GOOD).replace('"version": 1', '"version":\n ' + "9" * 5000)
    decl, problems, _ = load_text(text, "set" + suffix)
    assert decl is None
    assert [(p.line, p.column) for p in problems] == [(2, 2)]
    assert "5000 digits is too long" in problems[0].message


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_document_nested_too_deeply_is_a_problem(suffix: str) -> None:
    decl, problems, _ = load_text("[" * 100_000 + "]" * 100_000, "set" + suffix)
    assert decl is None and "nested too deeply" in problems[0].message
