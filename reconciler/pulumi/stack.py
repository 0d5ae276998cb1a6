"""The Pulumi stack's logic: read the stack config, find the declaration files, register one ``ProcessingSet`` per
processing set. The program in ``pulumi_program/`` calls it with the project folder (it knows where it is; this
package does not, wherever it is installed), and every path that reaches the provider is made absolute here.

Never one resource per object: a set of millions of outputs is one resource whose state holds the declaration and a
few counts. Files are read here (the program runs where the files are); the provider gets the declaration as plain
data plus its text (so ``check`` can report ``file:line:col`` exactly as ``cosrecon validate`` does) and the
non-secret connection settings. Credentials never pass through here: the provider reads them from the environment
or from the stack's secret config when it runs.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from reconciler.pulumi.engine import ApplySettings, Connection, discover_files, read_source
from reconciler.pulumi.provider import ProcessingSet

DEFAULT_DECLARATIONS = "examples/"


@dataclass(frozen=True)
class StackSettings:
    """The stack's ``cosrecon:*`` configuration (non-secret part)."""

    declarations: str = DEFAULT_DECLARATIONS
    connection: Connection = Connection()
    apply_settings: ApplySettings = ApplySettings()


def _absolute(value: str | None, root: Path) -> str:
    """A folder from the config, absolute (relative ones are relative to the project folder); "" when unset."""
    return str(root / value) if value else ""


def settings_from_config(config: pulumi.Config, root: Path) -> StackSettings:
    """Read ``cosrecon:declarations``, ``endpoint``, ``stateDir``, ``localRoot``, ``lockTimeout``, ``maxQps``,
    ``parallelism`` (all non-secret; credentials are read by the provider, never here). ``stateDir`` and
    ``localRoot`` are made absolute against ``root``, the project folder."""
    default = ApplySettings()
    lock_timeout, max_qps, parallelism = (config.get_int("lockTimeout"), config.get_int("maxQps"),
                                          config.get_int("parallelism"))
    return StackSettings(
        declarations=config.get("declarations") or DEFAULT_DECLARATIONS,
        connection=Connection(
            endpoint=config.get("endpoint") or "",
            state_dir=_absolute(config.get("stateDir"), root),
            local_root=_absolute(config.get("localRoot"), root),
        ),
        apply_settings=ApplySettings(
            lock_timeout=float(lock_timeout) if lock_timeout is not None else default.lock_timeout,
            max_qps=float(max_qps) if max_qps is not None else default.max_qps,
            parallelism=parallelism if parallelism is not None else default.parallelism,
        ),
    )


def declaration_files(spec: str, root: Path) -> list[Path]:
    """The files ``spec`` names, relative to ``root``: a file, a directory (its declaration files) or a glob."""
    base = Path(spec) if Path(spec).is_absolute() else root / spec
    if any(ch in spec for ch in "*?["):
        matches = sorted(Path(p) for p in glob.glob(str(base), recursive=True))
        files: list[Path] = []
        for match in matches:
            files.extend(discover_files(match))
        return sorted(dict.fromkeys(files))
    if not base.exists():
        raise pulumi.RunError(f"cosrecon:declarations: {spec}: no such file or directory (relative to {root})")
    return discover_files(base)


def define_stack(settings: StackSettings, root: Path) -> list[ProcessingSet]:
    """Register one ``ProcessingSet`` per declaration file; export a summary per set."""
    files = declaration_files(settings.declarations, root)
    if not files:
        raise pulumi.RunError(f"cosrecon:declarations: {settings.declarations}: no declaration files found")
    resources: list[ProcessingSet] = []
    seen: dict[str, str] = {}
    for file in files:
        source = read_source(file, root)
        if source.name in seen:
            raise pulumi.RunError(
                f"{source.path}: processing set {source.name!r} is already declared in {seen[source.name]}"
            )
        seen[source.name] = source.path
        resource = ProcessingSet(
            source.name,
            declaration=source.document,
            source_path=source.path,
            source_text=source.text,
            connection=settings.connection,
            apply_settings=settings.apply_settings,
        )
        resources.append(resource)
        pulumi.export(source.name, _exported(resource))
    return resources


def _exported(resource: ProcessingSet) -> dict[str, Any]:
    return {
        "summary": resource.summary,
        "calls": resource.calls,
        "ledger_generation": resource.ledger_generation,
        "declaration_digest": resource.declaration_digest,
    }
