"""Output keys as SQL expressions (PURE: text only): fileid templates rendered over a key column.

The SQL twin of ``declare.templates`` (``source_variables``, ``render_fileid``) and ``model.resolve_fileid``, for
a column ``key`` and a base directory expression: ``{key}``, ``{dir}``, ``{name}``, ``{stem}``, ``{ext}``,
``{rel}``, ``{reldir}`` as DuckDB string functions (``regexp_extract`` with RE2, code-point ``substr``), runs of
"/" made one, the leading "/" of a relative fileid dropped, then resolved as COS resolves a fileid. The
differential test (tests/query) holds these to the Python definitions on random keys and templates.
"""

from __future__ import annotations

import string


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _dir(column: str) -> str:
    """Everything before the last "/" ("" when there is none, or when it is the first character)."""
    return f"regexp_extract({column}, '(?s)^(.*)/', 1)"


def _name(column: str) -> str:
    return f"regexp_extract({column}, '(?s)[^/]*$')"


def first_variables(base: str) -> dict[str, str]:
    """SQL of ``dir``, ``name`` and ``rel`` over the column ``key``; ``base``: SQL of the include's base directory."""
    rel = (f"CASE WHEN {base} <> '' AND starts_with(key, {base}) THEN substr(key, length({base}) + 1) "
           "ELSE key END")
    return {"v_dir": _dir("key"), "v_name": _name("key"), "v_rel": rel}


def second_variables() -> dict[str, str]:
    """SQL of ``stem``, ``ext`` and ``reldir`` over the columns ``first_variables`` made: a name is split at its
    last "." when that is not its first character."""
    split = "regexp_matches(v_name, '(?s)^.+\\.[^.]*$')"
    return {"v_stem": f"CASE WHEN {split} THEN regexp_extract(v_name, '(?s)^(.+)\\.[^.]*$', 1) ELSE v_name END",
            "v_ext": f"CASE WHEN {split} THEN regexp_extract(v_name, '(?s)^.+\\.([^.]*)$', 1) ELSE '' END",
            "v_reldir": _dir("v_rel")}


# the column each template variable is in, once ``first_variables`` and ``second_variables`` made them
COLUMNS = {"key": "key", "dir": "v_dir", "name": "v_name", "stem": "v_stem", "ext": "v_ext", "rel": "v_rel",
           "reldir": "v_reldir"}


def fileid(template: str) -> str:
    """SQL of the fileid ``template`` renders to (``templates.render_fileid``), over the variables' columns."""
    parts = []
    for text, field, _, _ in string.Formatter().parse(template):
        if text:
            parts.append(literal(text))
        if field is not None:
            parts.append(COLUMNS[field])
    rendered = " || ".join(parts) if parts else "''"
    collapsed = f"regexp_replace({rendered}, '/{{2,}}', '/', 'g')"
    return collapsed if template[:1] == "/" else f"ltrim({collapsed}, '/')"


def output_key(fileid_sql: str) -> str:
    """SQL of the key COS writes for a fileid processed from ``key`` (``model.resolve_fileid``)."""
    return (f"CASE WHEN starts_with({fileid_sql}, '/') THEN ltrim({fileid_sql}, '/') "
            f"WHEN {fileid_sql} = key THEN key "
            f"ELSE regexp_extract(key, '(?s)^(.*/)', 1) || {fileid_sql} END")
