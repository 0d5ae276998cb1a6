"""``cosrecon apply``'s operation: the one workflow (``apply.workflow.run_sets``) on the backend a connection names."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.apply.workflow import Callbacks, Outcome, RunSettings, run_sets
from reconciler.model import Declaration
from reconciler.ops.compose import Connection, connect, pool_for


def apply(decls: Sequence[Declaration], connection: Connection, settings: RunSettings,
          callbacks: Callbacks = Callbacks()) -> Outcome:
    """Lock, plan, show, confirm, apply and compact the sets ``decls`` declare."""
    with connect(connection, decls, pool_size=pool_for(settings.options.parallelism)) as backend:
        return run_sets(decls, backend, settings, callbacks)
