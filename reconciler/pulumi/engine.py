"""The bridge between Pulumi's resource lifecycle and the cosrecon core. Imports no pulumi.

Everything the dynamic provider does goes through here, with the same engine the CLI uses: the same declaration
loading and messages as ``cosrecon validate``, the same planner, the same executor, lock and ledger. Nothing here
holds a client, a lock or a thread between calls: each operation opens a backend, uses it and closes it, so the
provider that Pulumi pickles carries plain data only. Credentials are passed in per call and never returned.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.declare import yamlfile
from reconciler.declare.authority import retiring
from reconciler.declare import load as declarations_module
from reconciler.errors import DeclarationError, Problem, UsageError
from reconciler.model import ActionKind, Declaration, Ledger, SetPlan

if TYPE_CHECKING:
    from reconciler.ops.compose import Backend

TO_DO = ("create", "replace", "delete")  # what apply acts on (a conflict is listed, never overwritten unasked)


@dataclass(frozen=True)
class Connection:
    """Where a set's objects and ledger are reached: non-secret settings only (they are resource inputs)."""

    endpoint: str = ""  # "" = Tencent Cloud
    state_dir: str = ""  # "" = the ledger in COS (the declaration's state bucket/prefix)
    local_root: str = ""  # "" = no embedded server

    def to_inputs(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_inputs(data: Any) -> Connection:
        data = data if isinstance(data, Mapping) else {}
        return Connection(**{f.name: str(data.get(f.name) or "") for f in dataclasses.fields(Connection)})


@dataclass(frozen=True)
class ApplySettings:
    """How apply runs (``--lock-timeout``, ``--max-qps``, ``--parallelism``): inputs, but never a change by themselves."""

    lock_timeout: float = 0.0
    max_qps: float = 100.0
    parallelism: int = 16

    def to_inputs(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_inputs(data: Any) -> ApplySettings:
        data = data if isinstance(data, Mapping) else {}
        default = ApplySettings()
        return ApplySettings(lock_timeout=float(data.get("lock_timeout", default.lock_timeout)),
                             max_qps=float(data.get("max_qps", default.max_qps)),
                             parallelism=int(data.get("parallelism", default.parallelism)))

    def options(self) -> Any:
        from reconciler.apply.contract import ApplyOptions

        return ApplyOptions(parallelism=self.parallelism, max_qps=self.max_qps, lock_timeout=self.lock_timeout)


def redact(message: str, secrets: Any = ()) -> str:
    """``message`` without the environment's or the given secret values."""
    from reconciler.credentials import redact as redact_secrets

    return redact_secrets(message, secrets)


def check_credentials(secret_id: Any, secret_key: Any, token: Any) -> None:
    """The stack's secret config, checked as the environment is (both or neither; no whitespace; never shown)."""
    from reconciler.credentials import check_pair

    check_pair(str(secret_id or "") or None, str(secret_key or "") or None, str(token or "") or None,
               names=("cosrecon:secretId", "cosrecon:secretKey", "cosrecon:securityToken"))


@dataclass(frozen=True)
class Credentials:
    """A credential pair from the stack's secret config; never part of inputs, outputs, messages or pickles."""

    secret_id: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"


@dataclass(frozen=True)
class SetSource:
    """One declaration file as the program read it."""

    name: str
    path: str  # as shown in messages: relative to the project root when below it
    text: str
    document: Any  # plain data (None when the file does not parse; check then reports why)


# --- reading declarations --------------------------------------------------------------------------------------


def discover_files(path: Path) -> list[Path]:
    """A file is itself; a directory gives its declaration files, searched as ``cosrecon validate`` searches them."""
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / n for n in sorted(names) if n.lower().endswith(declarations_module.SUFFIXES))
    return found


def display_path(file: Path, root: Path) -> str:
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(file)


def read_source(file: Path, root: Path) -> SetSource:
    """Read one declaration file: its text, its data when it parses, and the set's name (else the file's stem).
    ``root`` is the project folder (the stack program's parent), for the path shown in messages."""
    shown = display_path(file, root)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = ""
    document: Any = None
    try:
        document = yamlfile.parse_text(text, shown, is_json=file.suffix.lower() == ".json").data
    except yamlfile.LoadError:
        document = None
    name = document.get("name") if isinstance(document, Mapping) else None
    return SetSource(name=name if isinstance(name, str) and name else file.stem, path=shown, text=text,
                     document=document)


def load_declaration(path: str, text: str) -> Declaration:
    """One declaration from its text, validated as ``cosrecon validate`` validates its file. Raises DeclarationError."""
    decl, problems, _ = declarations_module.load_text(text, path)
    if problems or decl is None:
        raise DeclarationError(problems)
    return decl


def check_declaration(path: str, text: str) -> list[Problem]:
    """Every problem ``cosrecon validate`` would report for this declaration; [] when it is valid."""
    return declarations_module.load_text(text, path)[1]


def declaration_digest(decl: Declaration) -> str:
    return str(declarations_module.declaration_digest(decl))


# --- talking to COS ----------------------------------------------------------------------------------------------


def _local_path(value: str) -> Path:
    """A local folder of the connection: absolute, as the stack program makes it (the provider host's working
    folder is not promised, and this package may be installed anywhere)."""
    path = Path(value)
    if not path.is_absolute():
        raise UsageError(f"connection folder {value!r} is relative; the stack program passes absolute paths")
    return path


@contextmanager
def backend_for(connection: Connection, decl: Declaration, credentials: Credentials | None) -> Iterator[Backend]:
    """A backend for one provider call, closed when the call ends (no client outlives it)."""
    from reconciler.ops import compose  # here, not at import: the program needs none of it

    state_dir = _local_path(connection.state_dir) if connection.state_dir else None
    if connection.local_root:
        with compose.connect(compose.Connection(local_root=_local_path(connection.local_root), state_dir=state_dir),
                             [decl]) as backend:
            yield backend
    elif credentials is not None:
        yield compose.Backend(endpoint=connection.endpoint or None, state_dir=state_dir, secret_id=credentials.secret_id,
                      secret_key=credentials.secret_key, token=credentials.token)
    else:
        with compose.connect(compose.Connection(endpoint=connection.endpoint or None, state_dir=state_dir)) as backend:
            yield backend


# --- summaries (what Pulumi shows and stores: counts, never objects) ---------------------------------------------


def changes_by_output(plan: SetPlan) -> dict[str, dict[str, int]]:
    """``pipeline.output`` -> {action: count} for the actions that change something (create/replace/delete/conflict)."""
    result: dict[str, dict[str, int]] = {}
    for action in plan.actions:
        if action.action in (ActionKind.CREATE, ActionKind.REPLACE, ActionKind.DELETE, ActionKind.CONFLICT):
            per = result.setdefault(action.address, {})
            per[action.action.value] = per.get(action.action.value, 0) + 1
    return dict(sorted(result.items()))


def has_work(plan: SetPlan) -> bool:
    return any(plan.count(ActionKind(kind)) for kind in TO_DO) or bool(plan.calls)


def describe_changes(name: str, by_output: Mapping[str, Mapping[str, int]]) -> str:
    """One line per changed output: ``catalog: thumbnails.thumb-200: 12 to create, 3 to replace``."""
    lines = []
    for address, counts in by_output.items():
        parts = [f"{n} to {kind}" if kind != "conflict" else f"{n} conflict{'s' if n != 1 else ''}"
                 for kind, n in counts.items()]
        lines.append(f"{name}: {address}: {', '.join(parts)}")
    return "\n".join(lines)


def ledger_outputs(ledger: Ledger) -> dict[str, Any]:
    """What the ledger records, as counts: outputs per address and the generation."""
    recorded: dict[str, int] = {}
    for entry in ledger.entries.values():
        recorded[entry.address] = recorded.get(entry.address, 0) + 1
    return {"ledger_generation": ledger.generation, "recorded": dict(sorted(recorded.items()))}


# --- the lifecycle operations ------------------------------------------------------------------------------------


class ApplyIncomplete(Exception):
    """Some outputs failed after their retries; what succeeded is in the ledger, the next apply retries the rest."""


def plan_set(decl: Declaration, connection: Connection, credentials: Credentials | None) -> SetPlan:
    """The set's plan, as ``cosrecon plan`` makes it (no lock, no write)."""
    from reconciler.plan.observed import plan_declarations

    with backend_for(connection, decl, credentials) as backend:
        return plan_declarations([decl], backend, prune=decl.prune).sets[0]


def apply_set(decl: Declaration, connection: Connection, credentials: Credentials | None,
              options: Any = None) -> dict[str, Any]:
    """Plan under the set's lock and apply, as ``cosrecon apply --yes`` does; return the resource's outputs."""
    return _apply(decl, decl, connection, credentials, options)


def retire_set(decl: Declaration, connection: Connection, credentials: Credentials | None,
               options: Any = None) -> dict[str, Any]:
    """Delete every output the ledger records for the set (nothing else): the set with no pipelines, pruned."""
    return _apply(retiring(decl), decl, connection, credentials, options)


def read_set(decl: Declaration, connection: Connection, credentials: Credentials | None) -> dict[str, Any]:
    """What the ledger says now (``pulumi refresh``)."""
    with backend_for(connection, decl, credentials) as backend:
        ledger = backend.ledgers.read(decl)
    return {"set_name": decl.name, **ledger_outputs(ledger)}


def _apply(target: Declaration, decl: Declaration, connection: Connection, credentials: Credentials | None,
           options: Any) -> dict[str, Any]:
    from reconciler.apply.contract import ApplyOptions
    from reconciler.apply.workflow import RunSettings, run_sets

    settings = RunSettings(options=options if options is not None else ApplyOptions(), prune=target.prune)
    with backend_for(connection, decl, credentials) as backend:
        outcome = run_sets([target], backend, settings)  # no confirmation: `pulumi up` asked already
        ledger = backend.ledgers.read(decl)
    report = outcome.report
    if report.failures:
        raise ApplyIncomplete(failure_summary(decl.name, report))
    set_plan = outcome.plan.sets[0]
    summary = {"create": report.created, "replace": report.replaced, "delete": report.deleted,
               "conflict": set_plan.count(ActionKind.CONFLICT), "orphaned": set_plan.count(ActionKind.ORPHANED),
               "unchanged": set_plan.count(ActionKind.UNCHANGED), "failed": report.failed,
               "skipped": len(report.skipped)}
    return {"set_name": decl.name, "summary": summary, "calls": report.calls,
            "declaration_digest": declaration_digest(decl), **ledger_outputs(ledger)}


def failure_summary(name: str, report: Any, limit: int = 20) -> str:
    """``cosrecon apply``'s failure lines: key, COS error code, message, request id."""
    lines = [f"{name}: {report.failed} output(s) failed; {report.created} created, {report.replaced} replaced, "
             f"{report.deleted} deleted are recorded in the ledger, and the next apply retries the rest:"]
    for failure in report.failures[:limit]:
        request = f", request id {failure.request_id}" if failure.request_id not in failure.message else ""
        lines.append(f"  {failure.address} {failure.bucket}/{failure.key} (source {failure.source}): "
                     f"{failure.code}: {failure.message}{request}")
    if report.failed > limit:
        lines.append(f"  ... and {report.failed - limit} more")
    return "\n".join(lines)
