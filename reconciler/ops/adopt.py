"""``cosrecon adopt``'s operation: the one workflow run as an adoption — the objects standing at declared keys are
recorded in the ledger as they are, nothing is processed (``apply.adopt``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reconciler.apply.workflow import Callbacks, Operation, Outcome, RunSettings, run_sets
from reconciler.model import Declaration
from reconciler.ops.compose import Connection, connect


def adopt(decls: Sequence[Declaration], connection: Connection, settings: RunSettings,
          callbacks: Callbacks = Callbacks()) -> Outcome:
    """Lock, plan (unmanaged objects as replacements), show, confirm, then record what stands."""
    with connect(connection, decls) as backend:
        return run_sets(decls, backend, replace(settings, operation=Operation.ADOPT), callbacks)
