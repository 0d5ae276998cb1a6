"""`cosrecon preview PATH...`: sample what the plan's rules would make, by processing during download (the work is
``ops.preview``; this module parses, writes the gallery and prints).

Writes ``index.html`` (before/after gallery), ``preview.md`` (the same as a table) and the images under ``--out``;
writes nothing to any bucket. Prints the markdown table and the plan estimate with the measured size ratios.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.estimating import estimate_plan
from reconciler.cli.options import backend_options, connection_from_options, pace_options, prices_option
from reconciler.cli.scoping import inventory_option, scope_request
from reconciler.declare.load import load_declarations
from reconciler.errors import StateError
from reconciler.ops.preview import preview as preview_operation
from reconciler.plan.prices import load_prices
from reconciler.plan.samples import DEFAULT_SAMPLES, size_ratios
from reconciler.render.escape import escape_text
from reconciler.render.estimate import estimate_lines
from reconciler.render.gallery import render_gallery, render_preview_markdown

DEFAULT_OUT = Path(".cosrecon/preview")


@click.command("preview")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--sample", "samples", type=click.IntRange(1, 50), default=DEFAULT_SAMPLES, show_default=True,
              metavar="N", help="Sources sampled per output address that would be created or replaced.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT, show_default=True,
              metavar="DIR", help="Where the gallery (index.html), preview.md and the images go.")
@inventory_option
@pace_options
@prices_option
@backend_options
def preview(paths: tuple[str, ...], samples: int, out: Path, inventory: tuple[str, ...], parallelism: int,
            max_qps: float, prices_file: Path | None, endpoint: str | None, local: bool,
            state_dir: Path | None) -> None:
    """Fetch sample results of the rules the plan would run (processing during download) into a gallery.
    Writes nothing to any bucket; requests are paced by --max-qps."""
    decls = load_declarations(list(paths))
    book = load_prices(prices_file)
    plan, result = preview_operation(decls, connection_from_options(endpoint, local, state_dir), out,
                                     samples=samples, max_qps=max_qps, scope=scope_request(inventory),
                                     notes=lambda note: click.echo(escape_text(note), err=True))
    markdown = render_preview_markdown(result)
    try:
        (out / "index.html").write_text(render_gallery(result), encoding="utf-8")
        (out / "preview.md").write_text(markdown, encoding="utf-8")
    except OSError as error:
        raise StateError(f"{out}: cannot write the gallery ({error.strerror or error})") from None
    estimate = estimate_plan(plan, decls, book, max_qps=max_qps, parallelism=parallelism, ratios=size_ratios(result))
    sys.stdout.write(markdown + "\n" + "\n".join(estimate_lines(estimate)) + "\n")
    click.echo(f"Gallery: {out / 'index.html'} (opens from disk).", err=True)


COMMANDS: list[click.Command] = [preview]
