"""`cosrecon pic-operations KEY PATH...`: prints the Pic-Operations header an application's own upload code should
send for a key (``ops.pic_operations`` works it out; no request is made)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.declare.load import load_declarations
from reconciler.errors import UsageError
from reconciler.ops.pic_operations import upload_headers


@click.command("pic-operations")
@click.argument("key", metavar="KEY")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--bucket", default=None, metavar="BUCKET", help="The source bucket, when the sets use several.")
@click.option("--all", "all_calls", is_flag=True,
              help="Print every request's header, one per line (the first for the PUT, the others for "
                   "image_process calls after it).")
def pic_operations_command(key: str, paths: tuple[Path, ...], bucket: str | None, all_calls: bool) -> None:
    """Print the Pic-Operations header an upload of KEY should send to make the outputs declared in PATHs."""
    headers = upload_headers(load_declarations(list(paths)), key, bucket)
    if not headers:
        raise UsageError(f"no set declared in the given paths selects key {key!r}: nothing to make")
    for header in headers if all_calls else headers[:1]:
        click.echo(header)
    if len(headers) > 1 and not all_calls:
        click.echo(f"Note: {key!r} has more outputs than one request makes (5 rules); the other "
                   f"{len(headers) - 1} request(s) need `cosrecon apply` after the upload (or --all prints them, "
                   f"for image_process calls).", err=True)


COMMANDS: list[click.Command] = [pic_operations_command]
