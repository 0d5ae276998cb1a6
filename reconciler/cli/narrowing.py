"""``--target ADDRESS`` and ``--replace ADDRESS_OR_KEY`` (repeatable; declared in ``cli.options``), shared by
``plan`` and ``apply``: ``narrowing_from_options`` checks their values against the declarations (``plan.targets``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from reconciler.model import Declaration
from reconciler.plan.targets import Address, Replacement, parse_address, parse_replacement

@dataclass(frozen=True)
class Narrowing:
    """What the options chose: targets (empty: everything) and outputs to remake."""

    targets: tuple[Address, ...] = ()
    replacements: tuple[Replacement, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.targets or self.replacements)


def narrowing_from_options(target: Sequence[str], replace: Sequence[str], decls: Sequence[Declaration]) -> Narrowing:
    """The values of ``--target`` and ``--replace``; UsageError on an address nothing declares."""
    return Narrowing(tuple(parse_address(t, decls) for t in target),
                     tuple(parse_replacement(r, decls) for r in replace))
