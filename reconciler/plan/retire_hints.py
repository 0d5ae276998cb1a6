"""The ``retired:`` stanza to add, shown with a plan whose ledger records outputs no output or retired entry of the
declaration could have written (``declare.authority``): they are orphans, never deleted, until the declaration
answers for their old definition.

The stanza is made from what state remembers of that definition — the set's owner index, else the ledger header's
last-applied declaration — so it is for a reviewer to check in the pull request, never a permission: it comes from
the same writable prefix as the ledger. Every value is quoted (JSON escapes), so nothing from state prints raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.plan.ownership import OwnerIndex
from reconciler.declare.authority import quoted, retired_stanza
from reconciler.model import ActionKind, Declaration, SetPlan
from reconciler.plan.orphans import UNDECLARED


def _from_document(document: Mapping[str, Any] | None, address: str) -> dict[str, Any] | None:
    """The definition of ``address`` in the ledger's last-applied declaration, as far as it has that shape."""
    pipeline_name, _, output_name = address.partition(".")
    try:
        pipeline = document["pipelines"][pipeline_name]  # type: ignore[index]
        output = pipeline["outputs"][output_name]
        return {"fileid": output["fileid"], "include": pipeline["source"]["include"],
                "exclude": pipeline["source"].get("exclude", []), "bucket": output.get("bucket")}
    except (KeyError, TypeError, AttributeError):
        return None


def remembered(address: str, bucket: str, own: OwnerIndex | None, document: Mapping[str, Any] | None,
               default_bucket: str) -> dict[str, Any] | None:
    for out in own.outputs if own is not None else ():
        if out.address == address and out.bucket == bucket:
            return out.to_data()
    found = _from_document(document, address)
    if found is not None and (found.get("bucket") or default_bucket) == bucket:
        return found
    return None


def retire_hints(s: SetPlan, decl: Declaration, own: OwnerIndex | None,
                 document: Mapping[str, Any] | None) -> list[str]:
    """One warning per (address, bucket) of ``s``'s undeclared orphans, with the stanza that would retire it."""
    counts: dict[tuple[str, str], int] = {}
    for a in s.other_actions():
        if a.action is ActionKind.ORPHANED and a.detail == UNDECLARED:
            counts[(a.address, a.bucket)] = counts.get((a.address, a.bucket), 0) + 1
    hints = []
    for (address, bucket), count in sorted(counts.items()):
        stanza = retired_stanza(address, bucket, decl.bucket, remembered(address, bucket, own, document, decl.bucket))
        hints.append(f"set {decl.name!r}: {count} recorded output(s) at {quoted(address)} in {quoted(bucket)} "
                     f"that no output or retired: entry of the declaration could have written; never deleted. To "
                     f"prune them, add to the declaration (made from what the state remembers: check it):\n{stanza}")
    return hints
