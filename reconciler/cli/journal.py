"""`cosrecon journal set-aside SEGMENT PATH...`: parses and prints; ``ops.journal`` moves the segment."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.options import backend_options, connection_from_options
from reconciler.declare.load import load_declarations
from reconciler.errors import UsageError
from reconciler.ops.journal import set_aside_segment


@click.group("journal")
def journal_group() -> None:
    """Journal segments a run left (merged into the ledger by the next apply)."""


@journal_group.command("set-aside")
@click.argument("segment", metavar="SEGMENT")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@backend_options
def set_aside_command(segment: str, paths: tuple[Path, ...], endpoint: str | None, local: bool,
                      state_dir: Path | None) -> None:
    """Move the journal segment SEGMENT of a set declared in PATHs out of the journal (when it is corrupt)."""
    found = set_aside_segment(load_declarations(list(paths)), connection_from_options(endpoint, local, state_dir),
                              segment)
    if found is not None:
        decl, moved = found
        click.echo(f"Set aside {segment} of set {decl.name!r}: now {moved}.")
        return
    raise UsageError(f"no set declared in {', '.join(map(str, paths))} has journal segment {segment}")


COMMANDS: list[click.Command] = [journal_group]
