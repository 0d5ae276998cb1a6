"""The one place where errors become messages and exit codes.

Exit codes: 0 success (and, with ``--detailed-exitcode``, no changes); 1 error of any kind; 2 changes present
(``plan --detailed-exitcode`` only). A bad command line (unknown option, missing argument) is an error too and
exits 1, so that ``--detailed-exitcode`` scripts never read a typo as "changes present".
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from reconciler.apply.credentials import redact
from reconciler.errors import CosreconError, DeclarationError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


def report(error: CosreconError) -> None:
    """Print an error the way users see it: ``Error: ...`` on stderr; validation problems one per line."""
    if isinstance(error, DeclarationError):
        for problem in error.problems:
            click.echo(str(problem), err=True)
        click.echo(f"Error: {len(error.problems)} problem(s) found.", err=True)
    else:
        click.echo(f"Error: {redact(error.message)}", err=True)


class GuardedGroup(click.Group):
    """A click group that turns cosrecon errors (and anything unexpected) into a message and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CosreconError as error:
            report(error)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except click.UsageError as error:
            error.show()
            sys.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # stdout closed early (`cosrecon plan | head`): stop quietly, as Unix tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_ERROR)
        except OSError as error:
            click.echo(f"Error: {error.filename or ''}: {redact(str(error.strerror or error))}", err=True)
            sys.exit(EXIT_ERROR)
        except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
            click.echo(f"Error: internal error ({type(error).__name__}: {redact(str(error))}). Please report it.",
                       err=True)
            sys.exit(EXIT_ERROR)
