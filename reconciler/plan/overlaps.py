"""Output keys that two sets of one plan would both write (PURE): refused, as a collision within a set is.

Each set has its own ledger, so two sets writing one key would each see the other's object as changed outside
cosrecon and remake it on every apply. Which sets may meet is known from their declarations alone: a destination
bucket where an output prefix of one lies inside one of another's (``compiled.output_prefixes``). Only those sets'
expected keys under those prefixes are held and compared, after each set is planned; sets whose outputs cannot
meet cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.plan.compiled import expected_outputs, output_prefixes
from reconciler.errors import CollisionError
from reconciler.model import Declaration, ObjectInfo

_MAX_LISTED = 20


class SharedOutputs:
    """The keys of the sets (by their number in ``decls``) whose outputs may meet another set's."""

    def __init__(self, decls: Sequence[Declaration]) -> None:
        self.decls = decls
        self.watch: dict[int, dict[str, set[str]]] = {}  # set number -> bucket -> its prefixes that meet another's
        prefixes = [output_prefixes(d) for d in decls]
        for a in range(len(decls)):
            for b in range(a + 1, len(decls)):
                for bucket in prefixes[a].keys() & prefixes[b].keys():
                    for x in prefixes[a][bucket]:
                        for y in prefixes[b][bucket]:
                            if x.startswith(y) or y.startswith(x):
                                self.watch.setdefault(a, {}).setdefault(bucket, set()).add(x)
                                self.watch.setdefault(b, {}).setdefault(bucket, set()).add(y)
        self.owners: dict[tuple[str, str], int] = {}

    def add(self, number: int, sources: Iterable[ObjectInfo]) -> None:
        """Take set ``number``'s expected outputs (from its selected ``sources``); raises ``CollisionError`` naming
        the keys another set already writes."""
        watched = self.watch.get(number)
        if not watched:
            return
        under = {bucket: tuple(p) for bucket, p in watched.items()}
        decl, problems = self.decls[number], []
        for address, bucket, key in expected_outputs(decl, sources):
            prefixes = under.get(bucket)
            if prefixes is None or not key.startswith(prefixes):
                continue
            owner = self.owners.setdefault((bucket, key), number)
            if owner != number:
                other = self.decls[owner]
                problems.append(f"{bucket}/{key}: output of set {other.name!r} ({other.path or 'no file'}) and of "
                                f"set {decl.name!r} ({decl.path or 'no file'}: {address})")
        if problems:
            shown = problems[:_MAX_LISTED]
            more = len(problems) - len(shown)
            raise CollisionError(f"set {decl.name!r}: output keys that another set also writes; no plan is shown:",
                                 shown + ([f"... and {more} more"] if more else []))
