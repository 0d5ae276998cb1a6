"""What a declaration may delete or overwrite: the output definitions it answers for (PURE).

Only the declarations given on the command line grant permission. A recorded output may be pruned or destroyed
only when one of these definitions makes it: an output the set declares now, or an old definition it lists under
``retired:``. Its bucket must be that definition's destination, its key what the fileid template makes of the
recorded source, and that source must match the definition's globs. Nothing read from state (owner indexes, the
ledger header's last-applied declaration) is ever added: they are caches for speed and messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from reconciler.declare.globs import Selector
from reconciler.declare.templates import FileidTemplate, source_variables
from reconciler.model import Declaration, LedgerEntry, RetiredOutput, resolve_fileid


@dataclass(frozen=True)
class OutputDef:
    """One output definition: enough to tell whether it makes a key."""

    address: str
    bucket: str
    fileid: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    @cached_property
    def selector(self) -> Selector:
        return Selector(self.include, self.exclude)

    def makes(self, entry: LedgerEntry) -> bool:
        """Whether this output, from the entry's recorded source, writes the entry's bucket and key."""
        if entry.address != self.address or entry.bucket != self.bucket:
            return False
        selector = self.selector
        if not selector.matches(entry.source_key):
            return False
        try:
            fileid = FileidTemplate(self.fileid).render(source_variables(entry.source_key,
                                                                         selector.base_for(entry.source_key)))
        except (KeyError, ValueError, IndexError):
            return False
        return resolve_fileid(entry.source_key, fileid) == entry.key

    def to_data(self) -> dict[str, Any]:
        return {"address": self.address, "bucket": self.bucket, "fileid": self.fileid, "include": list(self.include),
                "exclude": list(self.exclude)}


def declared_outputs(decl: Declaration) -> tuple[OutputDef, ...]:
    """The outputs the set declares now."""
    return tuple(OutputDef(decl.address(p, o), decl.output_bucket(o), o.fileid, p.source.include, p.source.exclude)
                 for p in decl.pipelines for o in p.outputs)


def retired_outputs(decl: Declaration) -> tuple[OutputDef, ...]:
    """The old definitions the set lists under ``retired:``."""
    return tuple(OutputDef(r.address, r.bucket, r.fileid, r.include, r.exclude) for r in decl.retired)


def authority(decl: Declaration) -> tuple[OutputDef, ...]:
    """Every definition whose outputs the set may delete or overwrite: declared, then retired."""
    return declared_outputs(decl) + retired_outputs(decl)


def as_retired(outputs: Iterable[OutputDef]) -> tuple[RetiredOutput, ...]:
    """Definitions as ``retired:`` entries (destroy retires every declared output before it drops them)."""
    return tuple(RetiredOutput(o.address, o.bucket, o.fileid, o.include, o.exclude) for o in outputs)


def retiring(decl: Declaration) -> Declaration:
    """``decl`` to be destroyed (PURE): no pipelines, pruning, every output it declared (and still retires) listed
    as retired, so exactly what the declaration as given could have written may be deleted, in buckets it names."""
    document = {**decl.document, "pipelines": {}, "prune": True}  # what the ledger records as last applied
    retired = decl.retired + as_retired(declared_outputs(decl))
    return replace(decl, pipelines=(), prune=True, retired=retired, document=document)


def declared_buckets(decl: Declaration) -> list[str]:
    """Every bucket the declaration names: its own, its state's, its outputs' and its retired entries'."""
    named = {decl.bucket, decl.state.bucket} | {o.bucket for o in authority(decl)}
    return sorted(named)


class Authority:
    """``authority(decl)`` by address, for answering "could the declaration have written this entry?" quickly."""

    def __init__(self, decl: Declaration) -> None:
        self._by_address: dict[str, list[OutputDef]] = {}
        for out in authority(decl):
            self._by_address.setdefault(out.address, []).append(out)

    def permits(self, entry: LedgerEntry) -> bool:
        return any(o.makes(entry) for o in self._by_address.get(entry.address, ()))


def retired_stanza(address: str, bucket: str, default_bucket: str, remembered: Mapping[str, Any] | None) -> str:
    """The ``retired:`` entry to add (YAML) so prune may delete what ``address`` wrote, from what state remembers of
    its definition (``remembered``: fileid, include, exclude; None when nothing is remembered). For a reviewer to
    check: it comes from state, not from a declaration."""
    def flow(values: Any) -> str:
        items = [str(v) for v in values] if isinstance(values, (list, tuple)) else []
        return "[" + ", ".join(quoted(v) for v in items) + "]"

    lines = ["retired:", f"  - address: {quoted(address)}"]
    if bucket != default_bucket:
        lines.append(f"    bucket: {quoted(bucket)}")
    if remembered:
        lines.append(f"    fileid: {quoted(str(remembered.get('fileid', '')))}")
        lines.append(f"    include: {flow(remembered.get('include'))}")
        if remembered.get("exclude"):
            lines.append(f"    exclude: {flow(remembered.get('exclude'))}")
    else:
        lines += ["    fileid: ...   # the old output's fileid (state remembers none)",
                  "    include: [...]   # the old pipeline's source globs"]
    return "\n".join(lines)


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is valid YAML)."""
    return json.dumps(text, ensure_ascii=True)
