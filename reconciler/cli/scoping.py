"""``--inventory`` (plan, apply, adopt, preview), ``--source-prefix`` and ``--shard`` (plan, apply): which part of
the world a run looks at and how it is read. Defined once here; ``scope_request`` turns their values into a
``plan.scope.ScopeRequest`` (the reports are read when the backend is open)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from reconciler.plan.scope import ScopeRequest, Shard

F = TypeVar("F", bound=Callable[..., Any])


def inventory_option(command: F) -> F:
    """Add ``--inventory`` (repeatable)."""
    return click.option("--inventory", "inventory", multiple=True, metavar="COS_URL",
                        help="List a bucket from its COS Inventory report instead of LIST requests: "
                             "cos://<bucket>/<key of manifest.json>, or the report's folder "
                             "cos://<bucket>/<prefix>/<appid>/<bucket>/<config-id>/ (the newest day). "
                             "Repeatable, one per bucket; keys apply touches are checked again first.")(command)


def scope_options(command: F) -> F:
    """Add ``--inventory``, ``--source-prefix`` and ``--shard``."""
    command = click.option("--shard", "shard", default=None, metavar="I/N",
                           help="Only shard I of N: the sources a hash of their key puts in it (collisions are "
                                "still checked over the whole set). Shards 1..N together are the whole plan.")(command)
    command = click.option("--source-prefix", "source_prefix", multiple=True, metavar="PREFIX",
                           help="Only sources whose key starts with PREFIX (repeatable); orphans and deletes are "
                                "then found only under these prefixes.")(command)
    return inventory_option(command)


def scope_request(inventory: Sequence[str] = (), source_prefix: Sequence[str] = (),
                  shard: str | None = None) -> ScopeRequest:
    """The scope the options ask for; UsageError for a malformed ``--shard``."""
    return ScopeRequest(tuple(inventory), tuple(source_prefix), Shard.parse(shard) if shard else None)
