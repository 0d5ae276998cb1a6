"""What changed between the last applied declaration (kept in the ledger) and the current one.

The only module that imports deepdiff. It reads plain documents (JSON types) and returns plain values: per output
address, which of its fields changed from what to what. The planner shows rule changes as ``old -> new``; the
markdown renderer lists them for reviewers. It never decides anything: fingerprints decide what is stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from reconciler.declare.checks import output_nodes

_FIELDS = ("rule", "fileid", "bucket")


@dataclass(frozen=True)
class OutputChange:
    """One field of one output that changed (``old``/``new`` are ``""`` when the output was added/removed)."""

    address: str
    field: str
    old: str
    new: str


def _outputs(document: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """address -> {rule, fileid, bucket} of a declaration document (tolerant: bad shapes count as empty)."""
    return {f"{pname}.{oname}": {f: str(output.get(f) or "") for f in _FIELDS}
            for pname, oname, output in output_nodes(document)}


def output_changes(last: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[OutputChange]:
    """Field changes of outputs declared in both documents, in address order. Nothing when ``last`` is None."""
    if last is None:
        return []
    old, new = _outputs(last), _outputs(current)
    diff = DeepDiff(old, new, view="tree")
    changes: list[OutputChange] = []
    for item in diff.get("values_changed", []):
        path = item.path(output_format="list")
        if len(path) == 2 and path[1] in _FIELDS:
            changes.append(OutputChange(str(path[0]), str(path[1]), str(item.t1), str(item.t2)))
    changes.sort(key=lambda c: (c.address, _FIELDS.index(c.field)))
    return changes


def rule_changes(last: Mapping[str, Any] | None, current: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """address -> (old rule, new rule) for outputs whose rule text changed since the last apply."""
    return {c.address: (c.old, c.new) for c in output_changes(last, current) if c.field == "rule"}
