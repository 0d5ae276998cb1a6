"""The options several commands share, each declared once here, and the one typed object they fill (``Options``).

A command lists the shared options it takes (``@shared("connection", "lock_timeout", ...)``) and receives them as
one ``opts: Options`` argument; its own options stay its parameters. ``Options.connection`` turns ``--endpoint``,
``--local`` and ``--state-dir`` into an ``ops.compose.Connection``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.durations import DURATION
from reconciler.cli.endpoint import endpoint_callback
from reconciler.cli.scoping import inventory_option, scope_options, scope_request
from reconciler.errors import UsageError
from reconciler.ops.compose import Connection
from reconciler.plan.scope import ScopeRequest

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

LOCAL_ROOT = Path(".cosrecon/local")
LOCAL_ROOT_ENV = "COSRECON_LOCAL_ROOT"  # where --local keeps its data, when not LOCAL_ROOT


def local_root() -> Path:
    """The embedded server's data folder for ``--local``: ``$COSRECON_LOCAL_ROOT`` or ``.cosrecon/local``."""
    return Path(os.environ.get(LOCAL_ROOT_ENV) or LOCAL_ROOT)


@dataclass(frozen=True)
class Options:
    """The shared options' values; a command gets the defaults of those it does not take."""

    endpoint: str | None = None
    local: bool = False
    state_dir: Path | None = None
    lock_timeout: float = 0.0
    fmt: str = "text"
    parallelism: int = 16
    max_qps: float = 100.0
    max_delete: int | None = None
    max_cost: float | None = None
    yes: bool = False
    quiet: bool = False
    prices_file: Path | None = None
    target: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    inventory: tuple[str, ...] = ()
    source_prefix: tuple[str, ...] = ()
    shard: str | None = None

    def scope(self) -> ScopeRequest:
        """The part of the world ``--inventory``, ``--source-prefix`` and ``--shard`` ask for (``cli.scoping``)."""
        return scope_request(self.inventory, self.source_prefix, self.shard)

    def connection(self) -> Connection:
        """The connection ``--endpoint``, ``--local`` and ``--state-dir`` select (the operation opens it)."""
        if self.local and self.endpoint:
            raise UsageError("--local and --endpoint are exclusive: --local starts its own server")
        return Connection(endpoint=self.endpoint, local_root=local_root() if self.local else None,
                          state_dir=self.state_dir)


_FIELDS = frozenset(f.name for f in dataclasses.fields(Options))


def _connection() -> list[Decorator]:
    return [
        click.option("--endpoint", envvar="COSRECON_ENDPOINT", default=None, metavar="URL", callback=endpoint_callback,
                     help="COS-compatible endpoint, e.g. http://127.0.0.1:9000 (env COSRECON_ENDPOINT)."),
        click.option("--local", "local", is_flag=True, default=False,
                     help=f"Run against the embedded local server (root {LOCAL_ROOT} or ${LOCAL_ROOT_ENV}), "
                          f"started in-process."),
        click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
                     help="Keep ledgers in this local folder instead of COS."),
    ]


def _pace() -> list[Decorator]:
    return [
        click.option("--parallelism", type=click.IntRange(1, 256), default=16, show_default=True, metavar="N",
                     help="image_process calls (and deletes) in flight at once, 1-256."),
        click.option("--max-qps", type=click.FloatRange(0), default=100.0, show_default=True, metavar="QPS",
                     help="image_process calls per second (CI allows 100; 50 in finance and overseas regions; "
                          "0: no limit)."),
    ]


_DECLARED: dict[str, Callable[[], list[Decorator]]] = {
    "connection": _connection,
    "pace": _pace,
    "lock_timeout": lambda: [click.option(
        "--lock-timeout", type=DURATION, default="0s", show_default=True, metavar="DURATION",
        help="How long to wait for another run's lock on a set, e.g. 30s, 5m, 1h30m (0s: do not wait).")],
    "max_delete": lambda: [click.option(
        "--max-delete", type=click.IntRange(0), default=None, metavar="N",
        help="Refuse, changing nothing, when the plan deletes more than N objects.")],
    "max_cost": lambda: [click.option(
        "--max-cost", type=click.FloatRange(0), default=None, metavar="AMOUNT",
        help="Refuse, changing nothing, when the plan's estimated fees exceed AMOUNT (the price table's currency), "
             "or when they cannot be estimated in full (an item not priced: give --prices).")],
    "yes": lambda: [click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")],
    "quiet": lambda: [click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")],
    "prices": lambda: [click.option(
        "--prices", "prices_file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
        help="Price table for the estimate (layout of the built-in reconciler/plan/prices.json).")],
    "inventory": lambda: [inventory_option],  # declared in cli.scoping, with --source-prefix and --shard
    "scope": lambda: [scope_options],
    "narrowing": lambda: [
        click.option("--target", "target", multiple=True, metavar="ADDRESS",
                     help="Plan only these outputs: a set, set.pipeline or set.pipeline.output. "
                          "Repeatable; the rest of the ledger is untouched."),
        click.option("--replace", "replace", multiple=True, metavar="ADDRESS_OR_KEY",
                     help="Remake these recorded outputs although nothing changed: an address as for "
                          "--target, or an output key (bucket/key). Repeatable."),
    ],
}


def format_option(formats: Sequence[str], help_text: str) -> Decorator:
    """``--format``: the choices and what each gives differ by command; declared here, once."""
    return click.option("--format", "fmt", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                        help=help_text)


def shared(*names: str, fmt: Decorator | None = None) -> Callable[[F], F]:
    """Add the shared options ``names`` (keys of the table above; ``fmt``: a ``format_option``) to a command,
    which then takes them as one ``opts: Options`` keyword argument."""
    unknown = [n for n in names if n not in _DECLARED]
    if unknown:
        raise ValueError(f"no shared option {unknown}")

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            mine = {k: kwargs.pop(k) for k in list(kwargs) if k in _FIELDS}
            return command(opts=Options(**mine), **kwargs)

        decorated: Callable[..., Any] = wrapper
        decorators = [d for n in names for d in _DECLARED[n]()] + ([fmt] if fmt is not None else [])
        for decorator in reversed(decorators):
            decorated = decorator(decorated)
        return decorated  # type: ignore[return-value]

    return decorate
