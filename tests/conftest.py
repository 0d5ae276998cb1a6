"""Fixtures shared by every test folder. (The in-memory Storage the tests share is ``reconciler.storage.memory``.)"""

from __future__ import annotations

import os
import random
from pathlib import Path
from collections.abc import Callable

import pytest
from hypothesis import settings

from reconciler.pacing import RetryPolicy

# CI (CI=true, a fresh clone with no example database) replays the same examples every run, so a landing is not
# decided by which random examples one run drew; runs elsewhere keep exploring at random.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``RetryPolicy`` retries as often as it says, without pausing between attempts: a test of what is
    retried, not of how long backoff waits (``test_pacing`` tests the delays), spends no time in real sleeps."""

    def no_pause(self: RetryPolicy, attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
        return 0.0

    monkeypatch.setattr(RetryPolicy, "delay", no_pause)


def in_repository(folder: Path, origin: str = "https://example.com/team/site.git") -> Path:
    """Make ``folder`` a git repository with an ``origin`` remote (as far as cosrecon looks: ``.git/config``), so a
    declaration in it has an identity; returns ``folder``."""
    (folder / ".git").mkdir(parents=True, exist_ok=True)
    (folder / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {origin}\n', encoding="utf-8")
    return folder
