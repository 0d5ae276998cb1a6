"""Taking every set's lock for one run, in name order, so two runs never deadlock."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

from reconciler.apply.contract import ApplyOptions, BackendLike
from reconciler.model import Declaration
from reconciler.state.locks import HeldLock, LockInfo


def _lock_waiter(options: ApplyOptions) -> Callable[[LockInfo], None] | None:
    tell = options.on_lock_wait
    if tell is None:
        return None

    def waiting(info: LockInfo) -> None:
        tell(info.describe())

    return waiting


@contextmanager
def lock_sets(decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
              operation: str = "apply") -> Iterator[dict[str, HeldLock]]:
    """Hold every set's lock (taken in name order, so two runs never deadlock)."""
    with ExitStack() as stack:
        held: dict[str, HeldLock] = {}
        for decl in sorted(decls, key=lambda d: d.name):
            lock = backend.ledgers.acquire(decl, timeout=options.lock_timeout, lease=options.lease,
                                           operation=operation, on_wait=_lock_waiter(options))
            held[decl.name] = stack.enter_context(lock)
        yield held
