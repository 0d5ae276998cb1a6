"""``cosrecon journal set-aside``'s operation: move a (corrupt) journal segment of a set out of its journal, so no
run merges it."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import Declaration
from reconciler.ops.compose import Connection, connect
from reconciler.state.journal import set_aside


def set_aside_segment(decls: Sequence[Declaration], connection: Connection,
                      segment: str) -> tuple[Declaration, str] | None:
    """Set ``segment`` aside in the first set of ``decls`` whose journal has it: that set and the segment's new place
    (None when no set has it)."""
    with connect(connection, decls) as backend:
        for decl in decls:
            blobs = backend.ledgers.blobs(decl)
            if f"journal/{segment}" in blobs.list("journal/"):
                return decl, blobs.where + set_aside(blobs, segment)
    return None
