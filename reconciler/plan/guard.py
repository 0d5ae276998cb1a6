"""What apply may touch: the last check before an object is deleted or overwritten, whatever the plan, the saved
plan or the ledger says. State can only narrow what apply does.

- Authority: a recorded output is deleted only if the set could have written it: its bucket is the output's
  destination, its key is what the output's fileid template makes of the recorded source, and that source matches
  the pipeline's globs — for an output of the current declaration, or one the set declared when it wrote its
  entries (its owner index, ``ownership``) or last applied (as the ledger records it). So an output whose rule,
  fileid or pipeline was changed or removed can still be pruned, while a forged entry naming another bucket, a
  source, another set's ledger or ``important/contract.pdf`` cannot.
- Protection: never delete or overwrite a key that a declared source glob of any set in the run selects, a key
  under any set's state prefix in its state bucket, or a key another set's ledger at the same state location owns.

Pure: decides from declarations, entries and the owned keys it is given; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.plan.ownership import OutputDef, declared_outputs
from reconciler.declare.globs import Selector
from reconciler.declare.load import build_declaration
from reconciler.model import Declaration, LedgerEntry

OwnedKeys = Mapping[tuple[str, str], str]
"""(bucket, key) -> the name of the other set whose ledger records it."""


def _last_applied(document: Mapping[str, Any] | None) -> tuple[OutputDef, ...]:
    """The outputs of the declaration the ledger says was last applied, when it still builds."""
    if not isinstance(document, Mapping):
        return ()
    try:
        return declared_outputs(build_declaration(dict(document), "the ledger's last applied declaration"))
    except Exception:  # noqa: BLE001 - a ledger's document is data: one that does not build grants nothing
        return ()


class Guard:
    """Answers "may apply delete (or overwrite) this?" for every set of one run."""

    def __init__(self, decls: Sequence[Declaration], owned_elsewhere: Mapping[str, OwnedKeys] | None = None,
                 history: Mapping[str, Sequence[OutputDef]] | None = None) -> None:
        self._outputs = {d.name: declared_outputs(d) + tuple((history or {}).get(d.name, ())) for d in decls}
        self._last: dict[str, tuple[OutputDef, ...]] = {}
        self._sources = [(d.bucket, Selector(p.source.include, p.source.exclude), d.name)
                         for d in decls for p in d.pipelines]
        self._state = [(d.state.bucket, d.state.prefix, d.name) for d in decls]
        self._owned = owned_elsewhere or {}

    def could_have_written(self, decl: Declaration, entry: LedgerEntry, last_applied: Mapping[str, Any] | None) -> bool:
        """Whether an output the set declares, declared or last applied makes ``entry`` from its recorded source
        (``last_applied``, the ledger's, is read once per set: it is one document for the whole run)."""
        outputs = self._outputs.get(decl.name)
        if outputs is None:
            outputs = self._outputs[decl.name] = declared_outputs(decl)
        if any(o.makes(entry) for o in outputs):
            return True
        if decl.name not in self._last:
            self._last[decl.name] = _last_applied(last_applied)
        return any(o.makes(entry) for o in self._last[decl.name])

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
    return (f"set {set_name!r}: the ledger records {count} key(s) this set could not have written; nothing done "
            f"with them")
