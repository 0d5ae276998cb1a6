"""`cosrecon destroy SET PATH...`: parses and prints; ``ops.destroy`` retires the set (every output its ledger
records that the declaration as given could have written deleted, behind the usual guards; outputs changed outside
cosrecon kept and reported; entries no output or retired: entry makes are orphans, warned of, never deleted). What stays recorded
afterwards can be forgotten with ``state rm --set SET``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.apply.contract import ApplyOptions, ApplyReport
from reconciler.apply.workflow import Callbacks, RunSettings
from reconciler.cli.confirm import confirm_or_abort
from reconciler.cli.durations import DURATION
from reconciler.cli.options import backend_options, connection_from_options
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed
from reconciler.model import ActionKind, Plan
from reconciler.ops.destroy import chosen_set, destroy
from reconciler.render import apply_report, render_text


def summary_line(report: ApplyReport, kept: int) -> str:
    kept_text = f", {kept} kept (changed outside cosrecon)" if kept else ""
    return f"Destroy complete: {report.deleted} deleted, {report.failed} failed{kept_text}."


@click.command("destroy")
@click.argument("set_name", metavar="SET")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--max-delete", type=click.IntRange(0), default=None, metavar="N",
              help="Refuse when more than N objects would be deleted.")
@click.option("--lock-timeout", type=DURATION, default="0s", show_default=True,
              help="How long to wait for another run's lock on the set, e.g. 30s, 5m, 1h30m (0s: do not wait).")
@backend_options
def destroy_command(set_name: str, paths: tuple[Path, ...], yes: bool, max_delete: int | None, lock_timeout: float,
                    endpoint: str | None, local: bool, state_dir: Path | None) -> None:
    """Delete every output the ledger of SET (declared in PATHs) records; outputs changed outside are kept."""
    decl = chosen_set(load_declarations(list(paths)), set_name, ", ".join(map(str, paths)))
    options = ApplyOptions(max_delete=max_delete, lock_timeout=lock_timeout)

    def confirm(plan: Plan) -> None:
        if plan.count(ActionKind.DELETE):
            confirm_or_abort(f"Delete these {plan.count(ActionKind.DELETE)} outputs of set {set_name!r}?", yes=yes,
                             command="destroy")

    callbacks = Callbacks(show=lambda plan: click.echo(render_text(plan)), confirm=confirm,
                          warn=lambda warning: click.echo(f"Warning: {warning}", err=True))
    destroyed = destroy(decl, connection_from_options(endpoint, local, state_dir), RunSettings(options=options),
                        callbacks)
    report, kept = destroyed.outcome.report, destroyed.kept
    if report.failures:
        click.echo(apply_report.render_text(report))
        raise ApplyFailed(f"{report.failed} output(s) not deleted; run destroy again to retry them")
    click.echo(summary_line(report, kept))
    if kept:
        click.echo(f"The ledger still records them; `cosrecon state rm --set {set_name} PATH...` forgets them.")


COMMANDS: list[click.Command] = [destroy_command]
