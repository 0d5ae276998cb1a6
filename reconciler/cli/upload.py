"""`cosrecon upload`: parses its options and prints; ``ops.upload`` PUTs local files with the Pic-Operations of their
declared outputs, follow-up image_process calls for the rest, every output recorded in its set's ledger (the one
workflow: the same lock, warnings, budget, journal and compaction as apply).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from reconciler.apply.workflow import Callbacks
from reconciler.cli.estimating import cost_check
from reconciler.cli.gcpause import gc_paused
from reconciler.cli.options import Options, shared
from reconciler.cli.running import confirm_apply, run_options, scaffold
from reconciler.declare.load import load_declarations
from reconciler.errors import ApplyFailed
from reconciler.ops.upload import IngestOutcome, IngestSettings, local_files, upload
from reconciler.plan.prices import load_prices
from reconciler.model import MAX_RULES_PER_CALL, Plan
from reconciler.render import apply_report, render_text
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
    if counts.removed:
        lines.append(f"Deleted again {len(counts.removed)} uploaded file(s) whose processing upon upload failed "
                     f"(--keep-unprocessed keeps them), e.g. {counts.removed[0]!r}.")
    return "\n".join([apply_report.render_text(outcome.report, "Upload", "requests"), *map(escape_text, lines)])


def upload_plan_text(plan: Plan) -> str:
    """The plan as upload will run it: its summary counts the requests it makes — each file's rules of every set
    packed into its upload and follow-up calls of at most five (``apply.packing``) — not apply's calls."""
    rules: dict[tuple[str, str], int] = {}
    for s in plan.sets:
        for call in s.calls:
            rules[(call.bucket, call.key)] = rules.get((call.bucket, call.key), 0) + call.size
    requests = sum(-(-n // MAX_RULES_PER_CALL) for n in rules.values())
    text = render_text(plan).rstrip("\n")
    head, _, last = text.rpartition("\n")
    if last.startswith("Plan:"):
        last = re.sub(r"; \d+ image_process calls?\.$",
                      f"; {requests} upload request(s) with processing for {len(rules)} file(s).", last)
    return f"{head}\n{last}" if head else last


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
@click.option("--follow-symlinks", is_flag=True,
              help="Follow symbolic links inside a folder that stay inside it (by default any link is refused).")
@click.option("--keep-unprocessed", is_flag=True,
              help="Keep a file this run uploaded whose processing upon upload failed (by default it is deleted "
                   "again).")
@shared("yes", "lock_timeout", "quiet", "pace", "max_cost", "prices", "connection")
def upload_command(local_paths: tuple[Path, ...], bucket: str, prefix: str, declarations: tuple[Path, ...],
                   overwrite: bool, force: bool, only_declared: bool, follow_symlinks: bool,
                   keep_unprocessed: bool, opts: Options) -> None:
    """Upload LOCAL_PATHs to BUCKET, making their declared outputs in the upload request (Pic-Operations)."""
    decls = load_declarations(list(declarations))
    book = load_prices(opts.prices_file)  # a bad price file is refused before anything is listed
    files = local_files(list(local_paths), prefix, follow_symlinks=follow_symlinks)
    settings = IngestSettings(bucket=bucket, options=run_options(opts), overwrite=overwrite, force=force,
                              only_declared=only_declared, keep_unprocessed=keep_unprocessed)
    callbacks = Callbacks(show=lambda plan: click.echo(upload_plan_text(plan)),
                          confirm=lambda plan: confirm_apply(plan, opts.yes), planning=gc_paused,
                          check_cost=cost_check(book, opts),
                          warn=lambda warning: click.echo(escape_text(f"Warning: {warning}"), err=True))
    with scaffold():
        outcome = upload(files, decls, opts.connection(), settings, callbacks)
    click.echo(_summary(outcome))
    if outcome.report.failures or outcome.counts.failures or outcome.refused:
        raise ApplyFailed(f"{outcome.report.failed} output(s) failed, {len(outcome.counts.failures)} upload(s) "
                          f"failed, {len(outcome.refused)} file(s) refused; run upload again to retry")


COMMANDS: list[click.Command] = [upload_command]
