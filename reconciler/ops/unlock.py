"""``cosrecon unlock``'s operation: break a set's lock by its id (as ``terraform force-unlock``), or a corrupt lock
object by the token its error names."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import Declaration
from reconciler.ops.compose import Connection, connect
from reconciler.state.locks import CorruptLock, LockInfo


def unlock(decls: Sequence[Declaration], connection: Connection, lock_id: str) -> tuple[Declaration, LockInfo] | None:
    """Remove the lock ``lock_id`` of the first set of ``decls`` holding it: that set and the lock removed (None when
    no set holds it)."""
    with connect(connection, decls) as backend:
        for decl in decls:
            try:
                holder = backend.ledgers.read_lock(decl)
            except CorruptLock as corrupt:
                holder = None if corrupt.token != lock_id else backend.ledgers.unlock(decl, lock_id)
            else:
                holder = backend.ledgers.unlock(decl, lock_id) if holder is not None and holder.id == lock_id else None
            if holder is not None:
                return decl, holder
    return None
