"""The YAML/JSON loader: plain data, positions for every node, and no traceback for any input (fuzzed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.declare.load import load_declarations
from reconciler.errors import DeclarationError
from reconciler.declare.yamlfile import LoadError, load_document, parse_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_positions_of_values_and_keys() -> None:
    doc = parse_text("a: 1\nb:\n  - x\n  - {c: true}\n")
    assert doc.data == {"a": 1, "b": ["x", {"c": True}]}
    assert doc.locate(("a",)) == (1, 4)
    assert doc.locate(("a",), key=True) == (1, 1)
    assert doc.locate(("b", 0)) == (3, 5)
    assert doc.locate(("b", 1, "c")) == (4, 9)
    assert doc.locate(("b", 1, "missing")) == doc.locate(("b", 1))  # nearest known ancestor


def test_data_is_plain_json_types() -> None:
    doc = parse_text("s: 'x'\ni: 0x10\nf: 1.5\nb: yes\nn: ~\nd: 2024-01-02\nl: [1]\n")
    assert doc.data == {"s": "x", "i": 16, "f": 1.5, "b": "yes", "n": None, "d": "2024-01-02", "l": [1]}
    assert [type(v) for v in doc.data.values()] == [str, int, float, str, type(None), str, list]
    assert type(doc.data) is dict


def test_json_reads_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{\n  "a": {"b": [1, 2]}\n}\n')
    doc = load_document(path)
    assert doc.data == {"a": {"b": [1, 2]}}
    assert doc.locate(("a", "b", 1)) == (2, 18)


def test_json_with_tabs_falls_back_to_the_json_parser(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{\n\t"a":\t"b"\n}\n')
    assert load_document(path).data == {"a": "b"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "malformed YAML"),
        ("a: 1\na: 2\n", "duplicate key"),
        ("a: 1\n---\nb: 2\n", "malformed YAML"),
        ("? [1, 2]\n: x\n", "is not a string"),
        ("1: x\n", "is not a string"),
        ("a: .nan\n", "not a JSON number"),
        ("a: !!binary aGVsbG8=\n", "binary"),
        ("a: \x00\n", "binary content"),
        ("a: " + "[" * 600 + "]" * 600 + "\n", "nested too deeply"),
        ("a: &a [*a, *a]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\n"
         "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", ""),
    ],
)
def test_bad_input_raises_load_error(text: str, message: str) -> None:
    try:
        parse_text(text)
    except LoadError as exc:
        assert message in exc.message
        assert exc.line >= 1 and exc.column >= 1
    else:
        assert message == "", "expected a LoadError"


def test_alias_explosion_is_stopped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    with pytest.raises(LoadError, match="more than"):
        parse_text("\n".join(lines) + "\n")


def test_not_utf8_names_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"name: ok\nbad: \xff\xfe\n")
    with pytest.raises(LoadError) as info:
        load_document(path)
    assert info.value.line == 2 and "not UTF-8" in info.value.message


# --- fuzz: no input of any kind produces anything but problems ----------------------------------------

VALID_TEXT = (FIXTURES / "valid" / "minimal.yaml").read_text(encoding="utf-8")
_yamlish = st.text(alphabet=st.sampled_from(list("ab:-[]{},'\"&*!|>#?%@`\n\t 01.~/")), max_size=80)


def _mutations() -> st.SearchStrategy[bytes]:
    cut = st.integers(min_value=0, max_value=len(VALID_TEXT))
    return st.one_of(
        st.binary(max_size=200),
        st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")),
        _yamlish.map(str.encode),
        st.tuples(cut, _yamlish).map(lambda t: (VALID_TEXT[: t[0]] + t[1] + VALID_TEXT[t[0]:]).encode()),
        st.tuples(cut, cut).map(lambda t: (VALID_TEXT[: min(t)] + VALID_TEXT[max(t):]).encode()),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_mutations(), suffix=st.sampled_from([".yaml", ".json"]))
def test_fuzz_loader_never_raises_anything_but_problems(tmp_path: Path, content: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        decls = load_declarations([path])
    except DeclarationError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == str(path) and problem.line >= 1 and problem.column >= 1
            assert problem.path.startswith("$") and problem.message
    else:
        assert len(decls) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries(
    {"version": st.just(1), "name": st.just("x"), "region": st.just("ap-guangzhou"),
     "bucket": st.just("b-1250000000")},
    optional={"pipelines": json_values, "state": json_values, "prune": json_values},
))
def test_fuzz_wrong_types_in_structure(tmp_path: Path, data: dict[str, object]) -> None:
    import json

    path = tmp_path / "f.json"
    path.write_text(json.dumps(data))
    try:
        load_declarations([path])
    except DeclarationError as error:
        assert error.problems
