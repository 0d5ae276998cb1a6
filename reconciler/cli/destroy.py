"""`cosrecon destroy SET PATH...`: retire a set — delete every output its ledger records that the declaration as
given could have written, behind the usual guards.

The set is planned as if it declared no pipelines, retired every output it declares and pruned
(``declare.authority.retiring``): each recorded output that one of its outputs or ``retired:`` entries makes, still
standing as it was made, becomes a delete (in a bucket the declaration names); any other entry is an orphan,
reported and never deleted; one changed outside cosrecon since is kept and reported; one already gone is
forgotten. Then the one apply workflow runs: the set's lock, the plan shown, confirmation (``--yes``),
``--max-delete``, journaled deletes. What stays recorded afterwards can be forgotten with ``state rm --set SET``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.apply.contract import ApplyOptions, ApplyReport
from reconciler.apply.workflow import Callbacks, RunSettings, run_sets
from reconciler.cli.confirm import confirm_or_abort
from reconciler.cli.durations import DURATION
from reconciler.cli.options import backend_from_options, backend_options
from reconciler.declare.authority import declared_buckets, retiring
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed, UsageError
from reconciler.model import ActionKind, Plan, Reason
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
    decls = [d for d in load_declarations(list(paths)) if d.name == set_name]
    if not decls:
        raise UsageError(f"destroy: set {set_name!r} is not declared in {', '.join(map(str, paths))}")
    decl = retiring(decls[0])
    options = ApplyOptions(max_delete=max_delete, lock_timeout=lock_timeout)

    def confirm(plan: Plan) -> None:
        if plan.count(ActionKind.DELETE):
            confirm_or_abort(f"Delete these {plan.count(ActionKind.DELETE)} outputs of set {set_name!r}?", yes=yes,
                             command="destroy")

    callbacks = Callbacks(show=lambda plan: click.echo(render_text(plan)), confirm=confirm,
                          warn=lambda warning: click.echo(f"Warning: {warning}", err=True))
    with backend_from_options(endpoint, local, state_dir, buckets=declared_buckets(decl)) as backend:
        outcome = run_sets([decl], backend, RunSettings(options=options, prune=True), callbacks)
    report = outcome.report
    if report.failures:
        click.echo(apply_report.render_text(report))
        raise ApplyFailed(f"{report.failed} output(s) not deleted; run destroy again to retry them")
    kept = sum(1 for s in outcome.plan.sets for a in s.actions
               if a.action is ActionKind.ORPHANED and a.reason is not Reason.OUTPUT_GONE)
    click.echo(summary_line(report, kept))
    if kept:
        click.echo(f"The ledger still records them; `cosrecon state rm --set {set_name} PATH...` forgets them.")


COMMANDS: list[click.Command] = [destroy_command]
