"""`cosrecon upload`: parses its options and prints; ``ops.upload`` PUTs local files with the Pic-Operations of their
declared outputs, follow-up image_process calls for the rest, every output recorded in its set's ledger (the one
workflow: the same lock, warnings, budget, journal and compaction as apply).
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.apply.workflow import Callbacks
from reconciler.cli.durations import DURATION
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.options import backend_options, connection_from_options, pace_options
from reconciler.cli.running import confirm_apply, report_when_stopped, run_options, show_plan, sigterm_as_interrupt
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed
from reconciler.ops.upload import IngestOutcome, IngestSettings, local_files, upload
from reconciler.render import apply_report
from reconciler.render.escape import escape_text


def _summary(outcome: IngestOutcome) -> str:
    """The engine's report (escaped by its renderer), then what happened to the files (keys escaped here)."""
    counts = outcome.counts
    lines = [f"Uploaded {counts.puts} file(s) with processing upon upload and {counts.plain} plainly; "
             f"{len(outcome.unchanged)} stood with the same content (not uploaded again)."]
    if outcome.refused:
        lines.append(f"Refused {len(outcome.refused)} file(s) whose key stands with other content (--overwrite "
                     f"replaces them and their outputs), e.g. {outcome.refused[0]!r}.")
    lines += [f"Upload failed: {failure}" for failure in counts.failures]
    return "\n".join([apply_report.render_text(outcome.report, "Upload", "requests"), *map(escape_text, lines)])


@click.command("upload")
@click.argument("local_paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path),
                metavar="LOCAL_PATH...")
@click.option("--bucket", required=True, metavar="BUCKET", help="The bucket to upload to (<name>-<appid>).")
@click.option("--prefix", default="", metavar="PREFIX",
              help="Key prefix; a folder's structure is kept under it (include a trailing / for a folder).")
@click.option("--declarations", "-d", "declarations", multiple=True, required=True,
              type=click.Path(path_type=Path), metavar="DECLARATIONS",
              help="Declaration file or folder (repeatable): the sets whose outputs are made.")
@click.option("--overwrite", is_flag=True, help="Replace keys standing with other content, and their outputs.")
@click.option("--force", is_flag=True,
              help="PUT files whose key stands with the same content again, and remake their recorded outputs.")
@click.option("--only-declared", is_flag=True, help="Refuse (upload nothing) when a file is no set's source.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--lock-timeout", type=DURATION, default="0s", show_default=True,
              help="How long to wait for another run's lock on a set, e.g. 30s, 5m (0s: do not wait).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@pace_options
@backend_options
def upload_command(local_paths: tuple[Path, ...], bucket: str, prefix: str, declarations: tuple[Path, ...],
                   overwrite: bool, force: bool, only_declared: bool, yes: bool, lock_timeout: float, quiet: bool,
                   parallelism: int, max_qps: float, endpoint: str | None, local: bool,
                   state_dir: Path | None) -> None:
    """Upload LOCAL_PATHs to BUCKET, making their declared outputs in the upload request (Pic-Operations)."""
    decls = load_declarations(list(declarations))
    files = local_files(list(local_paths), prefix)
    options = run_options(parallelism, max_qps, None, None, lock_timeout, quiet)
    settings = IngestSettings(bucket=bucket, options=options, overwrite=overwrite, force=force,
                              only_declared=only_declared)
    callbacks = Callbacks(show=lambda plan: show_plan(plan, "text"), confirm=lambda plan: confirm_apply(plan, yes),
                          planning=gc_paused, warn=lambda warning: click.echo(f"Warning: {warning}", err=True))
    connection = connection_from_options(endpoint, local, state_dir)
    with sigterm_as_interrupt(), report_when_stopped("text"):
        outcome = upload(files, decls, connection, settings, callbacks)
    click.echo(_summary(outcome))
    if outcome.report.failures or outcome.counts.failures or outcome.refused:
        raise ApplyFailed(f"{outcome.report.failed} output(s) failed, {len(outcome.counts.failures)} upload(s) "
                          f"failed, {len(outcome.refused)} file(s) refused; run upload again to retry")


COMMANDS: list[click.Command] = [upload_command]
