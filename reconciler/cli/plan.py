"""`cosrecon plan PATH...`: show what apply would do — data on stdout, progress on stderr (terminals only).

Exit codes: 0 (and, with ``--detailed-exitcode``, a green plan: nothing to create, replace or delete, no conflict and
no orphan), 2 with ``--detailed-exitcode`` when the plan is not green (conflicts and kept orphans count: they need a
decision — adopt, --replace-unmanaged, --prune or ``state rm`` — before the plan is green), 1 error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

import click

from reconciler.cli.errors import EXIT_CHANGES
from reconciler.cli.estimating import estimate_plan
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.narrowing import narrowing_from_options, narrowing_options
from reconciler.cli.options import backend_options, connection_from_options, pace_options, prices_option
from reconciler.cli.scoping import scope_options, scope_request
from reconciler.declare.load import load_declarations
from reconciler.ops.plan import plan as plan_operation
from reconciler.plan.planfile import save_plan
from reconciler.plan.prices import load_prices
from reconciler.render.escape import escape_text
from reconciler.render import render_markdown, render_text, write_json
from reconciler.render.estimate import estimate_data, estimate_lines, render_estimate_markdown
from reconciler.render.notes import is_green


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


@click.command("plan")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="text for terminals, json for machines (schemas/plan.schema.json), markdown for PR comments.")
@click.option("--full", is_flag=True, help="List every action, even in plans of thousands (text).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the plan to FILE for `cosrecon apply --plan FILE`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when the plan is green (nothing to create, replace or delete, no conflict, no orphan), "
                   "2 when it is not, 1 on error.")
@click.option("--prune", is_flag=True, help="Show orphaned outputs as deletions (as `prune: true` does).")
@click.option("--replace-unmanaged", is_flag=True, help="Plan to overwrite objects the ledger never recorded.")
@narrowing_options
@scope_options
@pace_options
@prices_option
@backend_options
def plan(paths: tuple[str, ...], fmt: str, full: bool, out: Path | None, detailed_exitcode: bool, prune: bool,
         replace_unmanaged: bool, target: tuple[str, ...], replace: tuple[str, ...], inventory: tuple[str, ...],
         source_prefix: tuple[str, ...], shard: str | None, parallelism: int,
         max_qps: float, prices_file: Path | None, endpoint: str | None, local: bool, state_dir: Path | None) -> None:
    """Show which outputs are missing or stale, the image_process calls that fix them, and an estimate of their
    time, fees and blast radius. Changes nothing."""
    decls = load_declarations(list(paths))
    book = load_prices(prices_file)  # a bad price file is refused before anything is listed
    narrowing = narrowing_from_options(target, replace, decls)
    request = scope_request(inventory, source_prefix, shard)
    stderr = sys.stderr
    progress = ListingProgress(stderr) if stderr.isatty() else None
    try:
        planned = plan_operation(decls, connection_from_options(endpoint, local, state_dir),
                                 targets=narrowing.targets, replacements=narrowing.replacements, prune=prune,
                                 replace_unmanaged=replace_unmanaged, progress=progress, planning=gc_paused,
                                 scope=request)
    finally:
        if progress is not None:
            progress.close()
    result = planned.plan
    if out is not None:
        save_plan(result, out)
    warnings = [*planned.notes, *(f"Warning: {w}" for w in planned.warnings)]
    estimate = estimate_plan(result, planned.decls, book, max_qps=max_qps, parallelism=parallelism)
    stdout = sys.stdout
    scope = list(planned.scope)  # each inventory report and its date, --source-prefix, --shard
    if fmt == "json":
        write_json(result, stdout, {"estimate": estimate_data(estimate), **({"scope": scope} if scope else {})})
    elif fmt == "markdown":
        stdout.write("".join(f"_{escape_text(n)}_\n\n" for n in scope))
        stdout.write(render_markdown(result, warnings=warnings))
        if result.has_changes:
            stdout.write("\n" + render_estimate_markdown(estimate))
    else:
        stdout.write("".join(escape_text(n) + "\n" for n in scope))
        stdout.write(render_text(result, full=full, estimate=estimate_lines(estimate)))
    stdout.flush()
    for warning in warnings:
        click.echo(warning, err=True)
    if out is not None and fmt == "text":
        click.echo(escape_text(f"Saved the plan to {out}; apply it with `cosrecon apply {' '.join(paths)} --plan {out}`."),
                   err=True)
    if detailed_exitcode and not is_green(result):
        sys.exit(EXIT_CHANGES)


COMMANDS: list[click.Command] = [plan]
