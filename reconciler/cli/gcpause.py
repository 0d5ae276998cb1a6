"""The CLI's choice for its own process: the cyclic GC paused while a plan is made.

Planning 10^6 sources builds millions of long-lived, acyclic objects (ledger entries, listed objects, calls); with
the cyclic GC running, its sweeps rescan them again and again, and planning takes much longer. Pausing it changes
no result. The choice is process-wide, so it is made here, where the process starts, and only around planning:
the planner, the observer and the Pulumi provider leave the GC alone (a long-lived host keeps collecting).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC off inside the block; as it was before, after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
