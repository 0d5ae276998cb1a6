"""`cosrecon unlock LOCK_ID PATH...`: parses and prints; ``ops.unlock`` breaks the lock (as ``terraform
force-unlock``)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.options import backend_options, connection_from_options
from reconciler.declare.load import load_declarations
from reconciler.errors import UsageError
from reconciler.ops.unlock import unlock
from reconciler.render.escape import escape_text


@click.command("unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@backend_options
def unlock_command(lock_id: str, paths: tuple[Path, ...], endpoint: str | None, local: bool,
                   state_dir: Path | None) -> None:
    """Break the lock LOCK_ID held on one of the sets declared in PATHs (when its holder is gone); a corrupt lock
    object by the token its error names."""
    found = unlock(load_declarations(list(paths)), connection_from_options(endpoint, local, state_dir), lock_id)
    if found is not None:
        decl, holder = found
        what = "its corrupt lock object" if holder.pid == 0 and not holder.host else holder.describe()
        click.echo(escape_text(f"Unlocked set {decl.name!r}: removed {what}."))
        return
    raise UsageError(f"no set declared in {', '.join(map(str, paths))} holds lock {lock_id}")


COMMANDS: list[click.Command] = [unlock_command]
