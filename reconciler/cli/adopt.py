"""`cosrecon adopt`: parses its options and prints; the work is ``ops.adopt`` (record objects standing at declared keys
in the ledger, without processing them)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.apply.workflow import Callbacks, RunSettings
from reconciler.cli.confirm import confirm_or_abort
from reconciler.cli.durations import DURATION
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.options import backend_options, connection_from_options
from reconciler.cli.scoping import inventory_option, scope_request
from reconciler.cli.running import report_when_stopped, run_options, sigterm_as_interrupt
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed
from reconciler.model import Plan, Reason
from reconciler.ops.adopt import adopt
from reconciler.render.escape import escape_text
from reconciler.render.outcome import render_adopt_text, render_adoption, render_outcome_json


@click.command("adopt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--lock-timeout", type=DURATION, default="0s", show_default=True,
              help="How long to wait for another run's lock on a set, e.g. 30s, 5m, 1h30m (0s: do not wait).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people; json: the report as one document.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@inventory_option
@backend_options
def adopt_command(paths: tuple[Path, ...], lock_timeout: float, fmt: str, yes: bool, inventory: tuple[str, ...],
                  endpoint: str | None, local: bool, state_dir: Path | None) -> None:
    """Record the objects already standing at declared keys in the ledger, as they are (no processing)."""
    decls = load_declarations(list(paths))
    settings = RunSettings(options=run_options(16, 0, None, None, lock_timeout, True), scope=scope_request(inventory))

    def confirm(plan: Plan) -> None:
        if any(a.reason is Reason.REPLACE_UNMANAGED for s in plan.sets for a in s.actions):
            confirm_or_abort("Record these objects in the ledger?", yes=yes, command="adopt")

    callbacks = Callbacks(show=lambda plan: click.echo(render_adoption(plan), err=fmt == "json"), confirm=confirm,
                          planning=gc_paused, warn=lambda note: click.echo(escape_text(note), err=True))
    connection = connection_from_options(endpoint, local, state_dir)
    with sigterm_as_interrupt(), report_when_stopped(fmt):
        outcome = adopt(decls, connection, settings, callbacks)
    report = outcome.report
    click.echo(render_outcome_json(outcome.plan, report) if fmt == "json" else render_adopt_text(report))
    if report.failures:
        raise ApplyFailed(f"{report.failed} output(s) could not be adopted; run adopt again to retry them")


COMMANDS: list[click.Command] = [adopt_command]
