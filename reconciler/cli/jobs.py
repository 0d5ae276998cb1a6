"""`cosrecon jobs [PATH...]` and `cosrecon jobs cancel JOB_ID PATH...`: parses and prints; ``ops.jobs`` reads the
records of ``apply --via batch`` and asks CI for each job's state."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.options import Options, shared
from reconciler.declare.load import load_declarations
from reconciler.errors import UsageError
from reconciler.ops.jobs import cancel, jobs
from reconciler.render.escape import escape_text


@click.command("jobs")
@click.argument("words", nargs=-1, metavar="[PATH...] | cancel JOB_ID PATH...")
@shared("connection")
def jobs_command(words: tuple[str, ...], opts: Options) -> None:
    """The batch jobs `apply --via batch` submitted for the sets declared in PATHs (default: the current folder),
    with their state as Cloud Infinite gives it; `jobs cancel JOB_ID PATH...` cancels one of them (the next apply
    records what it made and plans the rest again)."""
    connection = opts.connection()
    if words[:1] == ("cancel",):
        if len(words) < 3:
            raise UsageError("usage: cosrecon jobs cancel JOB_ID PATH...")
        record = cancel(load_declarations([Path(w) for w in words[2:]]), connection, words[1])
        click.echo(escape_text(f"Cancelled batch job {words[1]} ({record.set} {record.address}); the next apply "
                               f"records what it made, and plans the rest again."))
        return
    rows = jobs(load_declarations([Path(w) for w in words] or [Path(".")]), connection)
    if not rows:
        click.echo("No batch jobs recorded.")
        return
    click.echo("set  output  job  state  outputs  submitted  collected")
    for record, info in rows:
        state = info.state if info is not None else (record.state or "not submitted")
        click.echo(escape_text(f"{record.set}  {record.address}  {record.job_id or '-'}  {state}  "
                               f"{len(record.expect)}  {record.submitted or '-'}  {'yes' if record.settled else 'no'}"))


COMMANDS: list[click.Command] = [jobs_command]
