"""`cosrecon apply`, `cosrecon adopt`, `cosrecon unlock`: thin commands over ``executor`` and ``state``.

apply: lock the sets, plan (or load a saved plan and refuse it when stale), show, confirm, execute, report.
adopt: record objects standing at declared keys in the ledger, without processing them.
unlock: break a set's lock by its id (as ``terraform force-unlock``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from reconciler.apply.backend import DEFAULT_POOL_SIZE, Backend
from reconciler.cli.options import backend_from_options, backend_options
from reconciler.cli.progress import make_progress
from reconciler.declare.load import declaration_digest, load_declarations
from reconciler.errors import Aborted, ApplyFailed, StalePlanError, UsageError
from reconciler.apply.adopt import adopt
from reconciler.apply.contract import ApplyOptions, ApplyReport, check_budget
from reconciler.apply.engine import apply_plan
from reconciler.apply.locking import lock_sets
from reconciler.model import Declaration, Plan
from reconciler.cli.gcpause import gc_paused
from reconciler.plan.observed import plan_declarations
from reconciler.plan.planfile import load_plan
from reconciler.render import apply_report, render_text


def parse_duration(text: str) -> float:
    """``30``, ``30s``, ``5m``, ``1h`` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise click.BadParameter(f"{text!r}: expected a duration such as 30s, 5m or 90")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _buckets(decls: Sequence[Declaration]) -> list[str]:
    names = {d.bucket for d in decls} | {d.state.bucket for d in decls}
    names |= {o.bucket for d in decls for p in d.pipelines for o in p.outputs if o.bucket}
    return sorted(names)


def make_plan(decls: Sequence[Declaration], backend: Backend, *, prune: bool, replace_unmanaged: bool) -> Plan:
    """The planner's plan, observed through the backend (the same as ``cosrecon plan`` shows)."""
    with gc_paused():
        return plan_declarations(decls, backend, prune=prune, replace_unmanaged=replace_unmanaged)


def _check_saved(plan: Plan, decls: Sequence[Declaration], where: str) -> None:
    by_name = {d.name: d for d in decls}
    for s in plan.sets:
        decl = by_name.get(s.name)
        if decl is None:
            raise StalePlanError(f"{where}: the plan is for set {s.name!r}, which the given declarations do not declare")
        if declaration_digest(decl) != s.declaration_digest:
            raise StalePlanError(f"{where}: set {s.name!r} was planned from a different declaration ({decl.path} "
                                 f"changed since); make a new plan")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _confirm(plan: Plan, yes: bool) -> None:
    if yes or not (plan.has_changes or plan.calls):
        return
    if not _interactive():
        raise Aborted("apply needs confirmation but no terminal is attached; re-run with --yes to apply this plan")
    if not click.confirm("Apply these changes?", default=False, err=True):
        raise Aborted("Apply cancelled; nothing was changed.")


def _show_plan(plan: Plan, fmt: str) -> None:
    click.echo(render_text(plan), err=fmt == "json")


def _finish(report: ApplyReport, fmt: str) -> None:
    click.echo(apply_report.render_json(report) if fmt == "json" else apply_report.render_text(report))
    if report.failures:
        raise ApplyFailed(f"{report.failed} output(s) failed; run apply again to retry them")


def _options(parallelism: int, max_qps: float, max_calls: int | None, max_delete: int | None, lock_timeout: float,
             quiet: bool) -> ApplyOptions:
    def waiting(holder: str) -> None:
        click.echo(f"Waiting up to {lock_timeout:g}s for {holder}...", err=True)

    return ApplyOptions(parallelism=parallelism, max_qps=max_qps, max_calls=max_calls, max_delete=max_delete,
                        lock_timeout=lock_timeout, progress=make_progress(quiet=quiet), on_lock_wait=waiting)


@click.command("apply")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Execute a plan saved with `plan --out` (give the same declaration PATHs).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--max-qps", type=click.FloatRange(0), default=100.0, show_default=True,
              help="image_process calls per second (CI allows 100; 50 in finance and overseas regions; 0: no limit).")
@click.option("--prune", is_flag=True, help="Delete recorded outputs that are no longer declared.")
@click.option("--replace-unmanaged", is_flag=True, help="Overwrite objects at declared keys the ledger never recorded.")
@click.option("--max-calls", type=click.IntRange(0), default=None, help="Refuse when the plan needs more calls.")
@click.option("--max-delete", type=click.IntRange(0), default=None, help="Refuse when the plan deletes more objects.")
@click.option("--lock-timeout", type=parse_duration, default="0s", show_default=True,
              help="How long to wait for another apply's lock.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@backend_options
def apply_command(paths: tuple[Path, ...], plan_file: Path | None, yes: bool, parallelism: int, max_qps: float,
                  prune: bool, replace_unmanaged: bool, max_calls: int | None, max_delete: int | None,
                  lock_timeout: float, fmt: str, quiet: bool, endpoint: str | None, local: bool,
                  state_dir: Path | None) -> None:
    """Make the outputs match the declarations in PATHs: plan, confirm, execute."""
    if not paths:
        raise UsageError("apply: give the declaration files or folders (with --plan: the ones the plan was made from)")
    if plan_file is not None and (prune or replace_unmanaged):
        raise UsageError("--prune and --replace-unmanaged are decided when the plan is made, not with --plan")
    decls = load_declarations(list(paths))
    options = _options(parallelism, max_qps, max_calls, max_delete, lock_timeout, quiet or fmt == "json")
    saved = None
    if plan_file is not None:
        saved = load_plan(plan_file)
        _check_saved(saved, decls, str(plan_file))
        options = replace(options, recheck_sources=True)  # the plan may be old: HEAD each source before its call
        decls = [d for d in decls if d.name in {s.name for s in saved.sets}]
    pool = max(DEFAULT_POOL_SIZE, parallelism + 8)  # workers + journal, lock refresh and planner threads
    with backend_from_options(endpoint, local, state_dir, buckets=_buckets(decls), pool_size=pool) as backend:
        with lock_sets(decls, backend, options) as locks:
            plan = saved or make_plan(decls, backend, prune=prune, replace_unmanaged=replace_unmanaged)
            _show_plan(plan, fmt)
            check_budget(plan, options)
            _confirm(plan, yes or saved is not None)  # a saved plan was reviewed when it was made
            report = apply_plan(plan, decls, backend, options, locks=locks)
    _finish(report, fmt)


@click.command("adopt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--lock-timeout", type=parse_duration, default="0s", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@backend_options
def adopt_command(paths: tuple[Path, ...], lock_timeout: float, fmt: str, endpoint: str | None, local: bool,
                  state_dir: Path | None) -> None:
    """Record the objects already standing at declared keys in the ledger, as they are (no processing)."""
    decls = load_declarations(list(paths))
    options = _options(16, 0, None, None, lock_timeout, True)
    with backend_from_options(endpoint, local, state_dir, buckets=_buckets(decls)) as backend:
        with lock_sets(decls, backend, options, operation="adopt") as locks:
            plan = make_plan(decls, backend, prune=False, replace_unmanaged=True)
            report = adopt(plan, decls, backend, options, locks=locks)
    _finish(report, fmt)


@click.command("unlock")
@click.argument("lock_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@backend_options
def unlock_command(lock_id: str, paths: tuple[Path, ...], endpoint: str | None, local: bool,
                   state_dir: Path | None) -> None:
    """Break the lock LOCK_ID held on one of the sets declared in PATHs (when its holder is gone)."""
    decls = load_declarations(list(paths))
    with backend_from_options(endpoint, local, state_dir, buckets=_buckets(decls)) as backend:
        for decl in decls:
            holder = backend.ledgers.read_lock(decl)
            if holder is not None and holder.id == lock_id:
                backend.ledgers.unlock(decl, lock_id)
                click.echo(f"Unlocked set {decl.name!r}: removed {holder.describe()}.")
                return
    raise UsageError(f"no set declared in {', '.join(map(str, paths))} holds lock {lock_id}")


COMMANDS: list[click.Command] = [apply_command, adopt_command, unlock_command]
