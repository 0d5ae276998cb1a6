"""`cosrecon adopt`: parses its options and prints; the work is ``ops.adopt`` (record objects standing at declared keys
in the ledger, without processing them)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from reconciler.apply.workflow import Callbacks, RunSettings
from reconciler.cli.confirm import confirm_or_abort
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.options import Options, format_option, shared
from reconciler.cli.running import run_options, scaffold
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed
from reconciler.model import Plan, Reason
from reconciler.ops.adopt import adopt
from reconciler.render.escape import escape_text
from reconciler.render.outcome import render_adopt_text, render_adoption, render_outcome_json


@click.command("adopt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@shared("lock_timeout", "yes", "inventory", "connection",
        fmt=format_option(["text", "json"], "text for people; json: the report as one document."))
def adopt_command(paths: tuple[Path, ...], opts: Options) -> None:
    """Record the objects already standing at declared keys in the ledger, as they are (no processing)."""
    decls = load_declarations(list(paths))
    # adopt makes no image_process call: no pace, no progress bar
    settings = RunSettings(options=run_options(replace(opts, max_qps=0), progress=False), scope=opts.scope())

    def confirm(plan: Plan) -> None:
        if any(a.reason is Reason.REPLACE_UNMANAGED for s in plan.sets for a in s.actions):
            confirm_or_abort("Record these objects in the ledger?", yes=opts.yes, command="adopt")

    callbacks = Callbacks(show=lambda plan: click.echo(render_adoption(plan), err=opts.fmt == "json"),
                          confirm=confirm, planning=gc_paused, warn=lambda note: click.echo(escape_text(note), err=True))
    with scaffold(opts.fmt):
        outcome = adopt(decls, opts.connection(), settings, callbacks)
    report = outcome.report
    click.echo(render_outcome_json(outcome.plan, report) if opts.fmt == "json" else render_adopt_text(report))
    if report.failures:
        raise ApplyFailed(f"{report.failed} output(s) could not be adopted; run adopt again to retry them")


COMMANDS: list[click.Command] = [adopt_command]
