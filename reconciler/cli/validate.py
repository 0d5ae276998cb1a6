"""`cosrecon validate PATH...`: check declaration files; print every problem (exit 1) or a one-line summary."""

from __future__ import annotations

import click

from reconciler.declare.load import load_declarations, locate_warnings
from reconciler.errors import DeclarationError, Problem
from reconciler.declare.warnings import declaration_warnings
from reconciler.model import Declaration
from reconciler.render.escape import escape_text


def render_summary(declarations: list[Declaration]) -> str:
    """``Valid: 3 sets, 5 pipelines, 9 outputs in 3 files (a.yaml, b.yaml, c.yaml).``"""
    pipelines = sum(len(d.pipelines) for d in declarations)
    outputs = sum(len(p.outputs) for d in declarations for p in d.pipelines)
    files = [d.path for d in declarations]
    shown = ", ".join(files[:5]) + (f", ... ({len(files) - 5} more)" if len(files) > 5 else "")

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    return escape_text(f"Valid: {n(len(declarations), 'set')}, {n(pipelines, 'pipeline')}, {n(outputs, 'output')} "
            f"in {n(len(files), 'file')} ({shown}).")


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--strict", is_flag=True, help="Treat warnings (a region COS does not list, a fileid extension "
                                            "contradicting the rule's format) as errors: exit 1.")
def validate(paths: tuple[str, ...], strict: bool) -> None:
    """Check declaration files (or directories of them) and report every problem with file:line:col."""
    declarations = load_declarations(list(paths))
    warnings = locate_warnings(w for d in declarations for w in declaration_warnings(d))
    if strict and warnings:
        raise DeclarationError([Problem(w.file, w.line, w.column, w.path, f"{w.message} (a warning; --strict)")
                                for w in warnings])
    click.echo(render_summary(declarations))
    for warning in warnings:
        click.echo(escape_text(str(warning)), err=True)


COMMANDS: list[click.Command] = [validate]
