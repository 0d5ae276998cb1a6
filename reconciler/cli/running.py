"""The run-command scaffold: what the commands that run the one workflow share (`apply`, `adopt`, `destroy`,
`upload`, `state rm`): the run's options from the shared ones (progress, the lock-wait message), showing and
confirming the plan, and how a signal or an early stop is reported (``scaffold``)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

from reconciler.apply.contract import ApplyOptions
from reconciler.plan.resets import reset_warnings
from reconciler.apply.stopping import EXIT_SIGTERM, RunStopped, Terminated
from reconciler.cli.options import Options
from reconciler.cli.progress import make_progress
from reconciler.errors import Aborted
from reconciler.model import Plan
from reconciler.render import apply_report, render_text
from reconciler.render.escape import escape_text


def _interactive() -> bool:
    return sys.stdin.isatty()


def confirm_apply(plan: Plan, yes: bool) -> None:
    if yes or not (plan.has_changes or plan.calls):
        return
    if not _interactive():
        raise Aborted("apply needs confirmation but no terminal is attached; re-run with --yes to apply this plan")
    if not click.confirm("Apply these changes?", default=False, err=True):
        raise Aborted("Apply cancelled; nothing was changed.")


def show_plan(plan: Plan, fmt: str) -> None:
    click.echo(render_text(plan), err=fmt == "json")
    for warning in reset_warnings(plan):
        click.echo(escape_text(f"Warning: {warning}"), err=True)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancellation, Kubernetes) handled as Ctrl-C: the engine stops dispatching, in-flight calls end,
    the journal is flushed, the lock released, the report printed; exit 143. A second SIGTERM is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except Terminated:  # while locking or planning (nothing changed), or during adopt (its records are journaled)
        click.echo("Terminated (SIGTERM): stopped; anything recorded is journaled and the lock is released.", err=True)
        sys.exit(EXIT_SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def report_when_stopped(fmt: str) -> Iterator[None]:
    """A run that stopped early (a signal, a dead endpoint) still prints what it made and what it did not."""
    try:
        yield
    except RunStopped as stopped:
        click.echo(apply_report.render_json(stopped.report) if fmt == "json"
                   else apply_report.render_text(stopped.report))
        raise


def run_options(opts: Options, *, max_calls: int | None = None, progress: bool = True) -> ApplyOptions:
    """The run's options from the shared ones: pace, budgets, the lock wait (said on stderr), progress on stderr
    unless ``--quiet`` or ``progress`` is False."""
    def waiting(holder: str) -> None:
        click.echo(escape_text(f"Waiting up to {opts.lock_timeout:g}s for {holder}..."), err=True)

    return ApplyOptions(parallelism=opts.parallelism, max_qps=opts.max_qps, max_calls=max_calls,
                        max_delete=opts.max_delete, lock_timeout=opts.lock_timeout,
                        progress=make_progress(quiet=opts.quiet or not progress), on_lock_wait=waiting)


@contextmanager
def scaffold(fmt: str = "text") -> Iterator[None]:
    """What every run-type command wraps its operation in: SIGTERM handled as Ctrl-C (exit 143) and the report of a
    run that stopped early."""
    with sigterm_as_interrupt(), report_when_stopped(fmt):
        yield
