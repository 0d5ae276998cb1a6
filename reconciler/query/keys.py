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


def first_variables(base: str) -> dict[str, str]:
    """SQL of ``name`` and ``rel`` over the column ``key``; ``base``: SQL of the include's base directory."""
    rel = (f"CASE WHEN {base} <> '' AND starts_with(key, {base}) THEN substr(key, length({base}) + 1) "
           "ELSE key END")
    return {"v_name": "split_part(key, '/', -1)", "v_rel": rel}


def second_variables() -> dict[str, str]:
    """SQL of what the last "/" of the key and of ``rel``, and the last "." of the name, cut off."""
    return {"v_dirslash": "left(key, length(key) - length(v_name))",
            "v_relslash": "left(v_rel, length(v_rel) - length(split_part(v_rel, '/', -1)))",
            "v_dot": "length(v_name) - length(split_part(v_name, '.', -1)) - 1"}


def third_variables() -> dict[str, str]:
    """SQL of ``dir``, ``reldir`` (before the last "/", "" when it is the first character) and ``stem``, ``ext``
    (a name split at its last "." when that is not its first character)."""
    return {"v_dir": "CASE WHEN length(v_dirslash) > 1 THEN left(v_dirslash, length(v_dirslash) - 1) ELSE '' END",
            "v_reldir": "CASE WHEN length(v_relslash) > 1 THEN left(v_relslash, length(v_relslash) - 1) ELSE '' END",
            "v_stem": "CASE WHEN v_dot > 0 THEN left(v_name, v_dot) ELSE v_name END",
            "v_ext": "CASE WHEN v_dot > 0 THEN substr(v_name, v_dot + 2) ELSE '' END"}


# the column each template variable is in, once the three steps above made them
COLUMNS = {"key": "key", "dir": "v_dir", "name": "v_name", "stem": "v_stem", "ext": "v_ext", "rel": "v_rel",
           "reldir": "v_reldir"}


def raw_fileid(template: str) -> str:
    """SQL of ``template`` with the variables' columns put in (``str.format_map``)."""
    parts = []
    for text, field, _, _ in string.Formatter().parse(template):
        if text:
            parts.append(literal(text))
        if field is not None:
            parts.append(COLUMNS[field])
    return " || ".join(parts) if parts else "''"


def fileid(template: str, raw: str = "fid_raw") -> str:
    """SQL of the fileid ``template`` renders to (``templates.render_fileid``) from its ``raw_fileid`` column:
    runs of "/" made one, a relative one's leading "/" dropped."""
    collapsed = f"CASE WHEN contains({raw}, '//') THEN regexp_replace({raw}, '/{{2,}}', '/', 'g') ELSE {raw} END"
    return collapsed if template[:1] == "/" else f"ltrim({collapsed}, '/')"


def output_key(template: str, fid: str = "fid") -> str:
    """SQL of the key COS writes for the fileid column ``fid`` of ``template`` processed from ``key``
    (``model.resolve_fileid``; ``v_dirslash``: the key up to its last "/")."""
    if template[:1] == "/":
        return f"ltrim({fid}, '/')"
    return f"CASE WHEN {fid} = key THEN key ELSE v_dirslash || {fid} END"
