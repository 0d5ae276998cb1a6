"""The thin click CLI: parse, call, render. Subcommands live one group per module; errors map in ``errors``."""

from __future__ import annotations

import click

from reconciler import __version__
from reconciler.cli.errors import GuardedGroup


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cosrecon")
def main() -> None:
    """Keep Tencent Cloud COS + Cloud Infinite derived images in step with declarations in git."""


def _register() -> None:
    from reconciler.cli import (adopt, apply, destroy, journal, local, pic_operations, plan, preview, state, unlock,
                                upload, validate)

    for module in (validate, plan, preview, apply, adopt, unlock, journal, upload, pic_operations, state, destroy,
                   local):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
