"""`cosrecon apply`: parses its options and prints; the work is ``ops.apply`` (the one workflow: lock, plan, a saved
plan checked against a fresh one, show, confirm, execute, compact)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from reconciler.apply.contract import ApplyReport
from reconciler.apply.refusals import failure_summary
from reconciler.apply.workflow import Callbacks, RunSettings
from reconciler.cli.durations import DURATION
from reconciler.cli.estimating import cost_check
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.narrowing import narrowing_from_options, narrowing_options
from reconciler.cli.options import backend_options, connection_from_options, prices_option
from reconciler.cli.scoping import scope_options, scope_request
from reconciler.cli.running import confirm_apply, report_when_stopped, run_options, show_plan, sigterm_as_interrupt
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed, UsageError
from reconciler.model import Plan
from reconciler.ops.apply import apply
from reconciler.plan.planfile import load_plan
from reconciler.plan.prices import load_prices
from reconciler.render import apply_report
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
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 256), default=16, show_default=True, metavar="N",
              help="image_process calls (and deletes) in flight at once, 1-256.")
@click.option("--max-qps", type=click.FloatRange(0), default=100.0, show_default=True, metavar="QPS",
              help="image_process calls per second (CI allows 100; 50 in finance and overseas regions; 0: no limit).")
@click.option("--prune", is_flag=True, help="Delete recorded outputs that are no longer declared.")
@click.option("--replace-unmanaged", is_flag=True, help="Overwrite objects at declared keys the ledger never recorded.")
@click.option("--max-calls", type=click.IntRange(0), default=None, metavar="N",
              help="Refuse, changing nothing, when the plan needs more than N image_process calls.")
@click.option("--max-delete", type=click.IntRange(0), default=None, metavar="N",
              help="Refuse, changing nothing, when the plan deletes more than N objects.")
@click.option("--max-cost", type=click.FloatRange(0), default=None, metavar="AMOUNT",
              help="Refuse, changing nothing, when the plan's estimated fees exceed AMOUNT (the price table's "
                   "currency), or when they cannot be estimated in full (an item not priced: give --prices).")
@prices_option
@click.option("--lock-timeout", type=DURATION, default="0s", show_default=True,
              help="How long to wait for another run's lock on a set, e.g. 30s, 5m, 1h30m (0s: do not wait).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people; json: the report, with every output created, replaced, deleted or failed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@narrowing_options
@scope_options
@backend_options
def apply_command(paths: tuple[Path, ...], plan_file: Path | None, yes: bool, parallelism: int, max_qps: float,
                  prune: bool, replace_unmanaged: bool, max_calls: int | None, max_delete: int | None,
                  max_cost: float | None, prices_file: Path | None, lock_timeout: float, fmt: str, quiet: bool,
                  target: tuple[str, ...], replace: tuple[str, ...], inventory: tuple[str, ...],
                  source_prefix: tuple[str, ...], shard: str | None, endpoint: str | None, local: bool,
                  state_dir: Path | None) -> None:
    """Make the outputs match the declarations in PATHs: plan, confirm, execute."""
    decls = load_declarations(list(paths))
    book = load_prices(prices_file)  # a bad price file is refused before anything is listed
    narrowing = narrowing_from_options(target, replace, decls)
    options = run_options(parallelism, max_qps, max_calls, max_delete, lock_timeout, quiet or fmt == "json")
    saved = load_plan(plan_file) if plan_file is not None else None
    settings = RunSettings(options=options, prune=prune, replace_unmanaged=replace_unmanaged, saved=saved,
                           saved_where=str(plan_file or ""), targets=narrowing.targets,
                           replacements=narrowing.replacements, scope=scope_request(inventory, source_prefix, shard))
    confirmed = yes or saved is not None  # a saved plan was reviewed when it was made
    callbacks = Callbacks(show=lambda plan: show_plan(plan, fmt), confirm=lambda plan: confirm_apply(plan, confirmed),
                          planning=gc_paused, check_cost=cost_check(book, max_cost, max_qps=max_qps,
                                                                    parallelism=parallelism),
                          warn=lambda warning: click.echo(f"Warning: {warning}", err=True))
    connection = connection_from_options(endpoint, local, state_dir)
    with sigterm_as_interrupt(), report_when_stopped(fmt):
        outcome = apply(decls, connection, settings, callbacks)
    _finish(outcome.plan, outcome.report, fmt)
    for step in next_steps(outcome.plan, shlex.join(map(str, paths))):  # what stands between this and a green plan
        click.echo(step, err=fmt == "json")


COMMANDS: list[click.Command] = [apply_command]
