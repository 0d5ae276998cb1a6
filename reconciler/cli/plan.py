"""`cosrecon plan PATH...`: show what apply would do — data on stdout, progress on stderr (terminals only).

Exit codes: 0 (and, with ``--detailed-exitcode``, no changes), 2 changes present (``--detailed-exitcode``), 1 error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

import click

from reconciler.cli.errors import EXIT_CHANGES
from reconciler.cli.options import backend_from_options, backend_options
from reconciler.declare.load import load_declarations
from reconciler.model import Declaration
from reconciler.cli.gcpause import gc_paused
from reconciler.plan.observed import plan_declarations
from reconciler.plan.planfile import save_plan
from reconciler.render import render_markdown, render_text, write_json


class ListingProgress:
    """``Listed 120,000 objects (41,000/s)`` rewritten in place on a terminal's stderr; silent elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, listed: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = listed / max(now - self.start, 1e-6)
        self.stream.write(f"\rListed {listed:,} objects ({rate:,.0f}/s)")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def buckets_of(decls: list[Declaration]) -> set[str]:
    """Every bucket the sets touch (created on the embedded server with ``--local``)."""
    found = set()
    for d in decls:
        found.update({d.bucket, d.state.bucket})
        found.update(d.output_bucket(o) for p in d.pipelines for o in p.outputs)
    return found


@click.command("plan")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="text for terminals, json for machines (schemas/plan.schema.json), markdown for PR comments.")
@click.option("--full", is_flag=True, help="List every action, even in plans of thousands (text).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the plan to FILE for `cosrecon apply --plan FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes, 0 when none, 1 on error.")
@click.option("--prune", is_flag=True, help="Show orphaned outputs as deletions (as `prune: true` does).")
@click.option("--replace-unmanaged", is_flag=True, help="Plan to overwrite objects the ledger never recorded.")
@backend_options
def plan(paths: tuple[str, ...], fmt: str, full: bool, out: Path | None, detailed_exitcode: bool, prune: bool,
         replace_unmanaged: bool, endpoint: str | None, local: bool, state_dir: Path | None) -> None:
    """Show which outputs are missing or stale, and the image_process calls that fix them. Changes nothing."""
    decls = load_declarations(list(paths))
    stderr = sys.stderr
    progress = ListingProgress(stderr) if stderr.isatty() else None
    try:
        with backend_from_options(endpoint, local, state_dir, buckets=buckets_of(decls)) as backend:
            with gc_paused():
                result = plan_declarations(decls, backend, prune=prune, replace_unmanaged=replace_unmanaged,
                                           progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if out is not None:
        save_plan(result, out)
    stdout = sys.stdout
    if fmt == "json":
        write_json(result, stdout)
    elif fmt == "markdown":
        stdout.write(render_markdown(result))
    else:
        stdout.write(render_text(result, full=full))
    stdout.flush()
    if out is not None and fmt == "text":
        click.echo(f"Saved the plan to {out}; apply it with `cosrecon apply {' '.join(paths)} --plan {out}`.", err=True)
    if detailed_exitcode and result.has_changes:
        sys.exit(EXIT_CHANGES)


COMMANDS: list[click.Command] = [plan]
