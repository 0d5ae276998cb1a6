"""``--target ADDRESS`` and ``--replace ADDRESS_OR_KEY`` (repeatable), shared by ``plan`` and ``apply``.

Defined once here; ``narrowing_from_options`` checks their values against the declarations (``plan.targets``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from reconciler.model import Declaration
from reconciler.plan.targets import Address, Replacement, parse_address, parse_replacement

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Narrowing:
    """What the options chose: targets (empty: everything) and outputs to remake."""

    targets: tuple[Address, ...] = ()
    replacements: tuple[Replacement, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.targets or self.replacements)


def narrowing_options(command: F) -> F:
    """Add ``--target`` and ``--replace`` to a click command."""
    command = click.option("--replace", "replace", multiple=True, metavar="ADDRESS_OR_KEY",
                           help="Remake these recorded outputs although nothing changed: an address as for "
                                "--target, or an output key (bucket/key). Repeatable.")(command)
    command = click.option("--target", "target", multiple=True, metavar="ADDRESS",
                           help="Plan only these outputs: a set, set.pipeline or set.pipeline.output. "
                                "Repeatable; the rest of the ledger is untouched.")(command)
    return command


def narrowing_from_options(target: Sequence[str], replace: Sequence[str], decls: Sequence[Declaration]) -> Narrowing:
    """The values of ``--target`` and ``--replace``; UsageError on an address nothing declares."""
    return Narrowing(tuple(parse_address(t, decls) for t in target),
                     tuple(parse_replacement(r, decls) for r in replace))


def targeting_notice(narrowing: Narrowing) -> str | None:
    """The line saying that ``--target`` narrows this run (as Terraform warns), or None without targets."""
    if not narrowing.targets:
        return None
    return (f"Note: targeting in effect: only {', '.join(str(t) for t in narrowing.targets)} planned; the other "
            "outputs and their ledger entries are left as they are (a plan without --target shows everything).")
