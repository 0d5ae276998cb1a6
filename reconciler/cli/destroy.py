"""`cosrecon destroy SET PATH...`: parses and prints; ``ops.destroy`` retires the set (every output its ledger
records that the declaration as given could have written deleted, behind the usual guards; outputs changed outside
cosrecon kept and reported; entries no output or retired: entry makes are orphans, warned of, never deleted). Like
every run, a SIGTERM stops it cleanly (exit 143) and a stopped run reports what it did. What stays recorded
afterwards can be forgotten with ``state rm --set SET``.
"""

from __future__ import annotations

import shlex

from pathlib import Path

import click

from reconciler.apply.contract import ApplyReport
from reconciler.apply.workflow import Callbacks, RunSettings
from reconciler.cli.confirm import confirm_or_abort
from reconciler.cli.options import Options, shared
from reconciler.cli.running import run_options, scaffold
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed
from reconciler.model import ActionKind, Plan
from reconciler.ops.destroy import chosen_set, destroy
from reconciler.render import apply_report, render_text
from reconciler.render.escape import escape_text


def summary_line(report: ApplyReport, kept: int) -> str:
    kept_text = f", {kept} kept (changed outside cosrecon)" if kept else ""
    return f"Destroy complete: {report.deleted} deleted, {report.failed} failed{kept_text}."


@click.command("destroy")
@click.argument("set_name", metavar="SET")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@shared("yes", "max_delete", "lock_timeout", "quiet", "connection")
def destroy_command(set_name: str, paths: tuple[Path, ...], opts: Options) -> None:
    """Delete every output the ledger of SET (declared in PATHs) records; outputs changed outside are kept."""
    decl = chosen_set(load_declarations(list(paths)), set_name, ", ".join(map(str, paths)))

    def confirm(plan: Plan) -> None:
        if plan.count(ActionKind.DELETE):
            confirm_or_abort(f"Delete these {plan.count(ActionKind.DELETE)} outputs of set {set_name!r}?",
                             yes=opts.yes, command="destroy")

    callbacks = Callbacks(show=lambda plan: click.echo(render_text(plan)), confirm=confirm,
                          warn=lambda warning: click.echo(escape_text(f"Warning: {warning}"), err=True))
    with scaffold():
        destroyed = destroy(decl, opts.connection(), RunSettings(options=run_options(opts)), callbacks)
    report, kept = destroyed.outcome.report, destroyed.kept
    if report.failures:
        click.echo(apply_report.render_text(report))
        raise ApplyFailed(f"{report.failed} output(s) not deleted; run destroy again to retry them")
    click.echo(summary_line(report, kept))
    if kept:
        click.echo(escape_text(f"The ledger still records them; `cosrecon state rm --set {shlex.quote(set_name)} "
                               f"{shlex.join(map(str, paths))}` forgets them."))


COMMANDS: list[click.Command] = [destroy_command]
