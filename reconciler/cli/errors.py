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

from reconciler.credentials import redact
from reconciler.errors import CosreconError, DeclarationError
from reconciler.render.escape import escape_text

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


def say(message: str) -> None:
    """One line on stderr, its control characters escaped (messages quote keys, paths and names: user data)."""
    click.echo(escape_text(message), err=True)


def report(error: CosreconError) -> None:
    """Print an error the way users see it: ``Error: ...`` on stderr; validation problems one per line."""
    if isinstance(error, DeclarationError):
        for problem in error.problems:
            say(str(problem))
        say(f"Error: {len(error.problems)} problem(s) found.")
    else:
        say(f"Error: {redact(error.headline)}")
        for detail in error.details:
            say(f"  {redact(detail)}")


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
            click.UsageError(escape_text(error.format_message()), error.ctx).show()  # it may quote an argument
            sys.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as error:  # a file click could not open, ...: it names the file
            say(f"Error: {error.format_message()}")
            sys.exit(error.exit_code)
        except BrokenPipeError:
            # stdout closed early (`cosrecon plan | head`): stop quietly, as Unix tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_ERROR)
        except OSError as error:
            say(f"Error: {error.filename or ''}: {redact(str(error.strerror or error))}")
            sys.exit(EXIT_ERROR)
        except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
            say(f"Error: internal error ({type(error).__name__}: {redact(str(error))}). Please report it.")
            sys.exit(EXIT_ERROR)
