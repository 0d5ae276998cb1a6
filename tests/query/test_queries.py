"""The query package's pieces on small tables: globs as RE2 and fileid templates as SQL agree with their Python
definitions (``declare.globs``, ``declare.templates``) key by key; the engine's memory settings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.declare.globs import compile_globs
from reconciler.declare.templates import output_key, source_variables
from reconciler.query import keys as sql_keys
from reconciler.query.engine import Engine, default_memory_limit, parse_memory
from reconciler.query.regex import glob_regex

PATTERNS = ["**/*.jpg", "**", "a/**/*.png", "*/*", "**.jpg", "a**b*", "[ab]*/**", "?/*.jpg", "b/*", "[!a]*",
            "**/*.[jp][pn]g", "a/**/b/*", "*", "x y/%2F+/*", "é/**/中*", "a**b**c", "**/a/**/b**", "[]a]*", "*.*"]
TEMPLATES = ["/t/{key}.webp", "/t/{reldir}/{stem}-s.{ext}", "r/{name}", "{stem}.webp", "/{dir}/{stem}.avif",
             "/all/{rel}", "x/{reldir}/{name}", "{name}", "/o/{dir}//{name}", "{reldir}/{stem}.y", "{{lit}}/{ext}"]
key_text = st.text(alphabet=st.sampled_from(list("ab/.%+ é中x\n]")), max_size=14)
_engine = Engine(memory_limit=128 << 20, threads=1)


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(key_text, min_size=1, max_size=30, unique=True))
def test_globs_match_in_duckdb_as_in_python(keys: list[str]) -> None:
    _engine.load("k", {"key": ("str", keys)})
    for pattern in PATTERNS:
        regex = glob_regex(pattern)
        assert regex is not None, pattern
        found = {k for (k,) in _engine.rows("SELECT key FROM k WHERE regexp_full_match(key, ?)", [regex])}
        glob = compile_globs((pattern,))
        assert glob is not None
        assert found == {k for k in keys if glob.match(k)}, pattern


def test_a_class_that_could_match_a_slash_has_no_translation() -> None:
    assert glob_regex("a[+-0]b") is None  # "/" lies in "+".."0": Python's translation excludes it, RE2 cannot
    assert glob_regex("a[[:alpha:]]") is None
    assert glob_regex("a[!x]b") == "(?s)a[^/x]b"


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(key_text.filter(bool), min_size=1, max_size=20, unique=True),
       base=st.sampled_from(["", "a/", "a/b/", "x"]))
def test_templates_render_in_duckdb_as_in_python(keys: list[str], base: str) -> None:
    _engine.load("k", {"key": ("str", keys)})
    steps = [", ".join(f"{sql} AS {name}" for name, sql in variables.items())
             for variables in (sql_keys.first_variables(sql_keys.literal(base)), sql_keys.second_variables(),
                               sql_keys.third_variables())]
    table = f"(SELECT *, {steps[2]} FROM (SELECT *, {steps[1]} FROM (SELECT *, {steps[0]} FROM k)))"
    for template in TEMPLATES:
        rows = _engine.rows(f"SELECT key, {sql_keys.output_key(template)} FROM (SELECT *, {sql_keys.fileid(template)} "
                            f"AS fid FROM (SELECT *, {sql_keys.raw_fileid(template)} AS fid_raw FROM {table}))")
        assert dict(rows) == {k: output_key(template, source_variables(k, base), k) for k in keys}, template


def test_memory_sizes() -> None:
    assert parse_memory("512MB") == 512 << 20
    assert parse_memory("2GiB") == 2 << 30
    assert parse_memory("1.5G") == int(1.5 * (1 << 30))
    with pytest.raises(ValueError):
        parse_memory("lots")
    with pytest.raises(ValueError):
        parse_memory("1MB")
    assert default_memory_limit() >= 256 << 20
    with Engine(memory_limit=300 << 20) as engine:
        assert engine.value("SELECT current_setting('memory_limit')") == "300.0 MiB"
