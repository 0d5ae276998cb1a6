"""`cosrecon plan PATH...`: show what apply would do — data on stdout, progress on stderr (terminals only).

Exit codes: 0 (and, with ``--detailed-exitcode``, a green plan: nothing to create, replace or delete, no conflict and
no orphan), 2 with ``--detailed-exitcode`` when the plan is not green (conflicts and kept orphans count: they need a
decision — adopt, --replace-unmanaged, --prune or ``state rm`` — before the plan is green), 1 error; 4 with
``--within FILE`` when the plan does anything the reviewed plan FILE does not (the GitHub apply workflow's check).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

import click
from click.core import ParameterSource

from reconciler.cli.errors import EXIT_BEYOND_REVIEW, EXIT_CHANGES
from reconciler.cli.estimating import estimate_plan
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.narrowing import narrowing_from_options, targeting_notice
from reconciler.cli.options import Options, format_option, shared
from reconciler.declare.load import load_declarations
from reconciler.ops.plan import plan as plan_operation
from reconciler.plan.planfile import load_plan, save_plan
from reconciler.plan.within import additions
from reconciler.plan.prices import load_prices
from reconciler.render.escape import escape_text
from reconciler.render import render_markdown, render_text, write_json
from reconciler.render.estimate import estimate_data, estimate_lines, render_estimate_markdown


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


CHECKED = 100  # sources per set whose first bytes --check-sources reads


@click.command("plan")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--full", is_flag=True, help="List every action, even in plans of thousands (text).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the plan to FILE for `cosrecon apply --plan FILE`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when the plan is green (nothing to create, replace or delete, no conflict, no orphan), "
                   "2 when it is not, 1 on error.")
@click.option("--link", "links", multiple=True, metavar="MARKDOWN",
              help="(markdown) A line ending the comment, kept within its 65,535 characters (e.g. a link to the saved "
                   "plan artifact). Repeatable.")
@click.option("--check-sources", is_flag=True,
              help=f"Read the first bytes of up to {CHECKED} sources per set (a ranged GET each) and warn about those "
                   "that are no image (without it, only extensions and 0-byte sizes are checked).")
@click.option("--within", "reviewed_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help=f"Compare with the reviewed plan FILE: exit {EXIT_BEYOND_REVIEW}, naming them, when "
                                   "this plan does anything FILE does not (a write or a delete); it may do less.")
@click.option("--prune", is_flag=True, help="Show orphaned outputs as deletions (as `prune: true` does).")
@click.option("--replace-unmanaged", is_flag=True, help="Plan to overwrite objects the ledger never recorded.")
@shared("narrowing", "scope", "pace", "prices", "connection",
        fmt=format_option(["text", "json", "markdown"], "text for terminals, json for machines "
                                                        "(schemas/plan.schema.json), markdown for PR comments."))
def plan(paths: tuple[str, ...], full: bool, out: Path | None, detailed_exitcode: bool, links: tuple[str, ...],
         check_sources: bool, reviewed_file: Path | None, prune: bool, replace_unmanaged: bool, opts: Options) -> None:
    """Show which outputs are missing or stale, the image_process calls that fix them, and an estimate of their
    time, fees and blast radius. Changes nothing."""
    decls = load_declarations(list(paths))
    book = load_prices(opts.prices_file)  # a bad price file is refused before anything is listed
    narrowing = narrowing_from_options(opts.target, opts.replace, decls)
    if (notice := targeting_notice(narrowing)) is not None:
        click.echo(escape_text(notice), err=True)
    reviewed = load_plan(reviewed_file) if reviewed_file is not None else None
    request = opts.scope()
    stderr = sys.stderr
    progress = ListingProgress(stderr) if stderr.isatty() else None
    try:
        planned = plan_operation(decls, opts.connection(),
                                 targets=narrowing.targets, replacements=narrowing.replacements, prune=prune,
                                 replace_unmanaged=replace_unmanaged, progress=progress, planning=gc_paused,
                                 scope=request, check_sources=CHECKED if check_sources else 0)
    finally:
        if progress is not None:
            progress.close()
    result = planned.plan
    if out is not None:
        save_plan(result, out)
    beyond, shown = additions(result, reviewed) if reviewed is not None else (0, [])
    warnings = [*planned.notes, *(f"Warning: {w}" for w in planned.warnings)]
    if beyond:
        warnings.insert(0, f"Beyond review: this plan does {beyond} thing(s) the reviewed plan {reviewed_file} does "
                           f"not: {'; '.join(shown)}{' ...' if beyond > len(shown) else ''}")
    given = click.get_current_context().get_parameter_source("max_qps") is not ParameterSource.DEFAULT
    estimate = estimate_plan(result, planned.decls, book, max_qps=opts.max_qps if given else None,  # else apply's
                             parallelism=opts.parallelism)  # default pace (plan.estimate.default_qps)
    stdout = sys.stdout
    fmt = opts.fmt
    scope = list(planned.scope)  # each inventory report and its date, --source-prefix, --shard
    if fmt == "json":
        write_json(result, stdout, {"estimate": estimate_data(estimate), **({"scope": scope} if scope else {})})
    elif fmt == "markdown":
        stdout.write(render_markdown(result, warnings=[*(f"Scope: {n}" for n in scope), *warnings], links=links,
                                     estimate=render_estimate_markdown(estimate) if result.has_changes else ""))
    else:
        stdout.write("".join(escape_text(n) + "\n" for n in scope))
        stdout.write(render_text(result, full=full, estimate=estimate_lines(estimate)))
    stdout.flush()
    for warning in warnings:
        click.echo(escape_text(warning), err=True)
    if out is not None and fmt == "text":
        click.echo(escape_text(f"Saved the plan to {out}; apply it with `cosrecon apply {' '.join(paths)} --plan {out}`."),
                   err=True)
    if beyond:
        sys.exit(EXIT_BEYOND_REVIEW)
    if reviewed_file is not None:
        click.echo(escape_text(f"Within the reviewed plan {reviewed_file}: nothing more."), err=True)
    if detailed_exitcode and not result.is_green:
        sys.exit(EXIT_CHANGES)


COMMANDS: list[click.Command] = [plan]
