"""A declaration compiled for the queries (PURE: text only): selection and output keys as SQL expressions.

``compile_set`` turns each pipeline's include/exclude globs into RE2 regexes (``regex``), its base directories
into a ``CASE`` over the include patterns, and each declared output's fileid template into the SQL of its output
key (``keys``), once per declaration. ``None`` when a glob has no RE2 translation (the set is then planned by the
Python planner).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.declare.globs import base_dir
from reconciler.declare.templates import template_variables
from reconciler.query import keys
from reconciler.query.regex import any_regex, glob_regex


@dataclass(frozen=True)
class OutputSpecSql:
    """One declared output as the queries see it (``index``: its number in the set, in declaration order)."""

    index: int
    address: str
    bucket: str
    template: str
    fingerprint: str
    overwrite_source: bool


@dataclass(frozen=True)
class PipelineSql:
    """One pipeline: SQL that selects its sources from a key column, its base directory, its outputs' keys."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]
    never_under: str
    outputs: tuple[OutputSpecSql, ...]

    def selects(self, column: str) -> str:
        """SQL that is true for a key ``column`` this pipeline selects (``declare.globs.Selector.matches``)."""
        include = any_regex(self.include)
        exclude = any_regex(self.exclude)
        if not self.include or include is None or exclude is None:
            return "false"
        sql = f"regexp_full_match({column}, {keys.literal(include)})"
        if self.never_under:
            sql += f" AND NOT starts_with({column}, {keys.literal(self.never_under)})"
        if self.exclude:
            sql += f" AND NOT regexp_full_match({column}, {keys.literal(exclude)})"
        return f"({sql})"

    def base(self) -> str:
        """SQL of the base directory (``{rel}`` is below it): the first matching include pattern's."""
        bases = [base_dir(p) for p in self.include]
        if len(set(bases)) <= 1:
            return keys.literal(bases[0] if bases else "")
        cases = " ".join(f"WHEN regexp_full_match(key, {keys.literal(glob_regex(p) or '')}) "
                         f"THEN {keys.literal(b)}" for p, b in zip(self.include, bases))
        return f"CASE {cases} ELSE '' END"

    def needs_base(self) -> bool:
        return any({"rel", "reldir"} & set(template_variables(o.template)) for o in self.outputs)


def translatable(pipelines: tuple[PipelineSql, ...]) -> bool:
    """Whether every glob of ``pipelines`` has an RE2 translation."""
    return all(glob_regex(p) is not None for pipe in pipelines for p in (*pipe.include, *pipe.exclude))
