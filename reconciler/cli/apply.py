"""`cosrecon apply`: parses its options and prints; the work is ``ops.apply`` (the one workflow: lock, plan, a saved
plan checked against a fresh one, show, confirm, execute, compact)."""

from __future__ import annotations

import shlex
from dataclasses import replace as replaced
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from reconciler.apply.contract import ApplyReport
from reconciler.apply.refusals import failure_summary
from reconciler.apply.workflow import Callbacks, RunSettings
from reconciler.cli.backfill import Backfill, backfill_options, failures_written
from reconciler.cli.estimating import chosen_pace, cost_check
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.narrowing import narrowing_from_options, targeting_notice
from reconciler.cli.options import Options, format_option, shared
from reconciler.cli.running import confirm_apply, run_options, scaffold, show_plan
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed
from reconciler.model import Plan
from reconciler.ops.apply import apply
from reconciler.plan.planfile import load_plan
from reconciler.plan.prices import load_prices
from reconciler.render import apply_report
from reconciler.render.escape import escape_text
from reconciler.render.notes import next_steps
from reconciler.render.outcome import render_outcome_json


def _finish(plan: Plan, report: ApplyReport, fmt: str) -> None:
    click.echo(render_outcome_json(plan, report) if fmt == "json" else apply_report.render_text(report))
    if report.failures:
        raise ApplyFailed(failure_summary(report.failures))


@click.command("apply")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Execute a plan saved with `plan --out` where a fresh plan agrees with it (give the same "
                   "declaration PATHs, and the --prune/--replace-unmanaged/--target/--replace the plan was made "
                   "with: the saved file can only narrow what these allow).")
@click.option("--prune", is_flag=True, help="Delete recorded outputs that are no longer declared.")
@click.option("--replace-unmanaged", is_flag=True, help="Overwrite objects at declared keys the ledger never recorded.")
@click.option("--max-calls", type=click.IntRange(0), default=None, metavar="N",
              help="Refuse, changing nothing, when the plan needs more than N image_process calls.")
@shared("yes", "pace", "max_delete", "max_cost", "prices", "lock_timeout", "quiet", "narrowing", "scope",
        "connection", fmt=format_option(["text", "json"], "text for people; json: the report, with every output "
                                                          "created, replaced, deleted or failed."))
@backfill_options
def apply_command(paths: tuple[Path, ...], plan_file: Path | None, prune: bool, replace_unmanaged: bool,
                  max_calls: int | None, opts: Options, **long_run: Any) -> None:
    """Make the outputs match the declarations in PATHs: plan, confirm, execute."""
    backfill = Backfill(**long_run)
    limit = backfill.time_limit()  # first: --max-duration bounds the whole command
    decls = load_declarations(list(paths))
    book = load_prices(opts.prices_file)  # a bad price file is refused before anything is listed
    narrowing = narrowing_from_options(opts.target, opts.replace, decls)
    if (notice := targeting_notice(narrowing)) is not None:
        click.echo(escape_text(notice), err=True)
    options = run_options(opts, max_calls=max_calls, progress=opts.fmt != "json")
    options = replaced(options, **backfill.engine_options(opts.yes, limit))
    saved = load_plan(plan_file) if plan_file is not None else None
    settings = RunSettings(options=options, prune=prune, replace_unmanaged=replace_unmanaged, saved=saved,
                           saved_where=str(plan_file or ""), targets=narrowing.targets,
                           replacements=narrowing.replacements, scope=opts.scope(), engine=backfill.executor())
    confirmed = opts.yes or saved is not None  # a saved plan was reviewed when it was made
    def warn(warning: str) -> None:
        click.echo(escape_text(f"Warning: {warning}"), err=True)

    default_pace = click.get_current_context().get_parameter_source("max_qps") is ParameterSource.DEFAULT
    callbacks = Callbacks(show=lambda plan: show_plan(plan, opts.fmt), confirm=lambda plan: confirm_apply(plan, confirmed),
                          planning=gc_paused, check_cost=cost_check(book, opts, warn),
                          pace=(lambda plan, sets: chosen_pace(plan, sets, book)) if default_pace else None,
                          warn=warn)
    with scaffold(opts.fmt), failures_written(backfill.failures_out) as write_failures:
        outcome = apply(decls, opts.connection(), settings, callbacks)
        write_failures(outcome.report)
    _finish(outcome.plan, outcome.report, opts.fmt)
    for step in next_steps(outcome.plan, shlex.join(map(str, paths))):  # what stands between this and a green plan
        click.echo(step, err=opts.fmt == "json")


COMMANDS: list[click.Command] = [apply_command]
