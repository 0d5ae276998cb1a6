"""What apply may touch: the last check before an object is deleted or overwritten, whatever the plan, the saved
plan or the ledger says. State can only narrow what apply does.

- Authority (``declare.authority``): a recorded output is deleted only if the declaration as given could have
  written it: its bucket is the destination of an output the set declares or lists under ``retired:``, its key is
  what that definition's fileid template makes of the recorded source, and that source matches its globs. The
  owner index and the ledger header's last-applied declaration are never consulted: they live in the same writable
  prefix as the ledger lines, so a forged entry naming another bucket, a source, another set's ledger or
  ``important/contract.pdf`` is refused however the state around it was edited.
- Protection: never delete or overwrite a key that a declared source glob of any set in the run selects, a key
  under any set's state prefix in its state bucket, or a key another set's ledger at the same state location owns.

Pure: decides from declarations, entries and the owned keys it is given; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.declare.authority import Authority
from reconciler.declare.globs import Selector
from reconciler.model import Declaration, LedgerEntry

OwnedKeys = Mapping[tuple[str, str], str]
"""(bucket, key) -> the name of the other set whose ledger records it."""


class Guard:
    """Answers "may apply delete (or overwrite) this?" for every set of one run."""

    def __init__(self, decls: Sequence[Declaration], owned_elsewhere: Mapping[str, OwnedKeys] | None = None) -> None:
        self._authority = {d.name: Authority(d) for d in decls}
        self._sources = [(d.bucket, Selector(p.source.include, p.source.exclude), d.name)
                         for d in decls for p in d.pipelines]
        self._state = [(d.state.bucket, d.state.prefix, d.name) for d in decls]
        self._owned = owned_elsewhere or {}

    def could_have_written(self, decl: Declaration, entry: LedgerEntry) -> bool:
        """Whether an output the set declares, or an old one it lists under ``retired:``, makes ``entry`` from its
        recorded source."""
        found = self._authority.get(decl.name)
        if found is None:
            found = self._authority[decl.name] = Authority(decl)
        return found.permits(entry)

    def protected(self, set_name: str, bucket: str, key: str, *, writing: bool = False) -> str | None:
        """Why ``bucket/key`` must never be deleted (or, ``writing``, overwritten) by ``set_name``; None when it may
        be. A write may land on the set's own source (``overwrite_source``; the planner refuses it otherwise)."""
        for source_bucket, selector, owner in self._sources:
            if source_bucket == bucket and selector.matches(key) and not (writing and owner == set_name):
                return f"a source of set {owner!r}"
        for state_bucket, prefix, owner in self._state:
            if state_bucket == bucket and key.startswith(prefix):
                return f"under set {owner!r}'s state prefix {prefix!r}"
        other = self._owned.get(set_name, {}).get((bucket, key))
        if other is not None:
            return f"an output of set {other!r} (its ledger records it)"
        return None


def refusal_summary(set_name: str, count: int) -> str:
    return (f"set {set_name!r}: the ledger records {count} key(s) that no output or retired: entry of its "
            f"declaration could have written; nothing done with them")
