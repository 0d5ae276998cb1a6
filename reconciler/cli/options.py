"""Click options shared by the commands that talk to COS: ``--endpoint``, ``--local``, ``--state-dir``.

Defined once here; ``connection_from_options`` turns their values into an ``ops.compose.Connection``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.ops.compose import Connection
from reconciler.cli.endpoint import endpoint_callback
from reconciler.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

LOCAL_ROOT = Path(".cosrecon/local")
LOCAL_ROOT_ENV = "COSRECON_LOCAL_ROOT"  # where --local keeps its data, when not LOCAL_ROOT


def local_root() -> Path:
    """The embedded server's data folder for ``--local``: ``$COSRECON_LOCAL_ROOT`` or ``.cosrecon/local``."""
    return Path(os.environ.get(LOCAL_ROOT_ENV) or LOCAL_ROOT)


def backend_options(command: F) -> F:
    """Add ``--endpoint``, ``--local`` and ``--state-dir`` to a click command."""
    command = click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                           metavar="DIR", help="Keep ledgers in this local folder instead of COS.")(command)
    command = click.option("--local", "local", is_flag=True, default=False,
                           help=f"Run against the embedded local server (root {LOCAL_ROOT} or ${LOCAL_ROOT_ENV}), started in-process.")(command)
    command = click.option("--endpoint", envvar="COSRECON_ENDPOINT", default=None, metavar="URL",
                           callback=endpoint_callback,
                           help="COS-compatible endpoint, e.g. http://127.0.0.1:9000 (env COSRECON_ENDPOINT).")(command)
    return command


def connection_from_options(endpoint: str | None, local: bool, state_dir: Path | None) -> Connection:
    """The connection the options select (the operation opens it)."""
    if local and endpoint:
        raise UsageError("--local and --endpoint are exclusive: --local starts its own server")
    return Connection(endpoint=endpoint, local_root=local_root() if local else None, state_dir=state_dir)


def pace_options(command: F) -> F:
    """Add ``--parallelism`` and ``--max-qps``: how fast apply calls (and what the plan estimate assumes)."""
    command = click.option("--max-qps", type=click.FloatRange(0), default=100.0, show_default=True, metavar="N",
                           help="image_process calls per second (CI allows 100; 50 in finance and overseas "
                                "regions; 0: no limit).")(command)
    command = click.option("--parallelism", type=click.IntRange(1, 256), default=16, show_default=True, metavar="N",
                           help="Concurrent image_process calls.")(command)
    return command


def prices_option(command: F) -> F:
    """Add ``--prices FILE``: the price table of the plan estimate (default: the built-in one)."""
    return click.option("--prices", "prices_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        metavar="FILE", help="Price table for the estimate (layout of the built-in "
                                             "reconciler/plan/prices.json).")(command)
