"""What the commands that run the apply workflow share (`apply`, `adopt`, `upload`): the run's options, showing and
confirming the plan, and how a signal or an early stop is reported."""

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
        click.echo(f"Warning: {warning}", err=True)


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


def run_options(parallelism: int, max_qps: float, max_calls: int | None, max_delete: int | None, lock_timeout: float,
             quiet: bool) -> ApplyOptions:
    def waiting(holder: str) -> None:
        click.echo(escape_text(f"Waiting up to {lock_timeout:g}s for {holder}..."), err=True)

    return ApplyOptions(parallelism=parallelism, max_qps=max_qps, max_calls=max_calls, max_delete=max_delete,
                        lock_timeout=lock_timeout, progress=make_progress(quiet=quiet), on_lock_wait=waiting)
