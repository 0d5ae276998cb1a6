"""The options of long applies (backfills), parsed and turned into what the engine takes: ``--max-duration``,
``--order``, ``--canary``, ``--max-failure-rate``, ``--failures-out``; the canary's table and question; the
failures file written whether the run finished or stopped (docs/backfill.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.apply.canary import CanaryResult
from reconciler.apply.contract import ApplyReport
from reconciler.apply.failrate import DEFAULT_MAX_FAILURE_RATE
from reconciler.apply.ordering import Order
from reconciler.apply.stopping import RunStopped
from reconciler.apply.timebox import TimeLimit
from reconciler.cli.durations import DURATION
from reconciler.apply.batch import BatchSettings, batch_executor
from reconciler.apply.workflow import Executor
from reconciler.errors import Aborted, UsageError
from reconciler.render.escape import escape_text
from reconciler.render.failures import failure_lines

F = TypeVar("F", bound=Callable[..., Any])


def backfill_options(command: F) -> F:
    """Add the backfill options to ``apply``."""
    for option in reversed([
        click.option("--max-duration", type=DURATION, default=None, metavar="DURATION",
                     help="Bound the whole run (planning, calls, compaction), e.g. 5h: stop dispatching in time to "
                          "finish in-flight calls and compact; exit 3 when calls remain (the next apply goes on)."),
        click.option("--order", type=click.Choice([o.value for o in Order]), default=Order.NEWEST.value,
                     show_default=True, help="Which calls go first: newest / oldest sources (LastModified in the "
                                             "listing), or key order."),
        click.option("--canary", type=click.IntRange(0), default=0, metavar="N",
                     help="Make the first N calls, check their outputs (present, size > 0, the declared format's "
                          "content type), show them and ask before the rest (with --yes: go on only if none failed)."),
        click.option("--max-failure-rate", type=click.FloatRange(0, 100), default=DEFAULT_MAX_FAILURE_RATE * 100,
                     show_default=True, metavar="PERCENT",
                     help="Stop the run when more than PERCENT of any 100 consecutive calls failed (100: never)."),
        click.option("--failures-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     metavar="FILE", help="Write every output not made as JSON Lines (set, address, bucket, key, "
                                          "source, error class) to FILE."),
        click.option("--via", type=click.Choice(["calls", "batch"]), default="calls", show_default=True,
                     help="calls: make the image_process calls; batch: hand them to Cloud Infinite batch jobs (one "
                          "per output), then collect what they made (needs --queue; see docs/backfill.md)."),
        click.option("--queue", default=None, metavar="QUEUE_ID", help="The CI queue of --via batch's jobs."),
        click.option("--wait", is_flag=True, help="With --via batch: poll until the jobs end and collect their "
                                                  "outputs (else a later apply does, exit 3 meanwhile)."),
    ]):
        command = option(command)
    return command


@dataclass(frozen=True)
class Backfill:
    """The backfill options' values."""

    max_duration: float | None = None
    order: str = Order.NEWEST.value
    canary: int = 0
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE * 100
    failures_out: Path | None = None
    via: str = "calls"
    queue: str | None = None
    wait: bool = False

    def executor(self) -> Executor | None:
        """The engine of ``--via batch`` (None: the calls themselves)."""
        if self.via != "batch":
            if self.queue or self.wait:
                raise UsageError("--queue and --wait go with --via batch")
            return None
        if not self.queue:
            raise UsageError("--via batch needs --queue QUEUE_ID (CI runs a batch job in a queue)")
        if self.canary or self.max_duration is not None:
            raise UsageError("--canary and --max-duration are for --via calls; a batch job runs on CI's side")
        return batch_executor(BatchSettings(self.queue, self.wait))

    def time_limit(self) -> TimeLimit | None:
        """The deadline, counted from now (call it first thing: the whole command is bounded)."""
        return None if self.max_duration is None else TimeLimit.starting_now(self.max_duration)

    def engine_options(self, yes: bool, limit: TimeLimit | None) -> dict[str, Any]:
        """The ``ApplyOptions`` fields these options set."""
        return {"time_limit": limit, "order": Order(self.order), "canary": self.canary,
                "on_canary": canary_prompt(yes) if self.canary else None,
                "max_failure_rate": None if self.max_failure_rate >= 100 else self.max_failure_rate / 100}


def canary_lines(result: CanaryResult) -> list[str]:
    lines = [f"Canary: {result.calls} call(s) made; {len(result.outputs) - result.failed} of "
             f"{len(result.outputs)} output(s) stand as declared:"]
    for o in result.outputs:
        state = f"ok    {o.size} B {o.content_type}" if o.ok else f"FAIL  {o.problem}"
        lines.append(f"  {state}  {o.bucket}/{o.key}  ({o.address} of {o.source})")
    return lines


def canary_prompt(yes: bool) -> Callable[[CanaryResult], None]:
    """Show the canary's outputs; then ask (or, with ``--yes``, go on only when none failed)."""
    def decide(result: CanaryResult) -> None:
        for line in canary_lines(result):
            click.echo(escape_text(line), err=True)
        if not result.remaining:
            return
        if yes:
            if result.failed:
                raise Aborted(f"{result.failed} canary output(s) do not stand; the other {result.remaining} "
                              f"call(s) were not made")
            return
        if not sys.stdin.isatty():
            raise Aborted("the canary needs a confirmation but no terminal is attached (--yes goes on when no "
                          "canary output failed)")
        if not click.confirm(f"Go on with the remaining {result.remaining} call(s)?", default=False, err=True):
            raise Aborted("declined after the canary")

    return decide


def write_failures(path: Path | None, report: ApplyReport) -> None:
    if path is None:
        return
    with path.open("w", encoding="utf-8") as out:
        out.writelines(failure_lines(report.failures))


@contextmanager
def failures_written(path: Path | None) -> Iterator[Callable[[ApplyReport], None]]:
    """Yields the writer of a finished run's failures; a run that stops early has its failures written too."""
    try:
        yield lambda report: write_failures(path, report)
    except RunStopped as stopped:
        write_failures(path, stopped.report)
        raise
