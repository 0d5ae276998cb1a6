"""Asking before a command changes something: on a terminal, or refused without one unless ``--yes``."""

from __future__ import annotations

import sys

import click

from reconciler.errors import Aborted


def interactive() -> bool:
    return sys.stdin.isatty()


def confirm_or_abort(question: str, *, yes: bool, command: str) -> None:
    """Return when the user agrees (or gave ``--yes``); raise ``Aborted`` otherwise, nothing changed."""
    if yes:
        return
    if not interactive():
        raise Aborted(f"{command} needs confirmation but no terminal is attached; re-run with --yes")
    if not click.confirm(question, default=False, err=True):
        raise Aborted(f"{command.capitalize()} cancelled; nothing was changed.")
