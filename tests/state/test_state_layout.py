"""The state layout is state/'s: the one copy of its names below it (``declare.checks.STATE_FILES``, for the check
that the sources never select the ledger's keys) agrees with ``state.store`` and ``state.locks``, and that check
tests something."""

from __future__ import annotations

from reconciler.declare.checks import STATE_FILES
from reconciler.declare.load import load_text
from reconciler.state.locks import LOCK_NAME
from reconciler.state.store import JOURNAL_DIR, LEDGER_NAME

DECL = """\
version: 1
name: shop
region: ap-guangzhou
bucket: shop-1250000000
pipelines:
  thumbs:
    source:
      include: ["{glob}"]
    outputs:
      small: {{rule: imageMogr2/thumbnail/200x, fileid: "/thumbs/{{stem}}.jpg"}}
"""


def test_the_names_declare_checks_agree_with_the_store() -> None:
    ledger, lock, segment = STATE_FILES
    assert (ledger, lock) == (LEDGER_NAME, LOCK_NAME)
    assert segment.startswith(JOURNAL_DIR) and segment.endswith(".json")


def test_sources_selecting_the_ledger_file_are_refused() -> None:
    decl, problems, _ = load_text(DECL.format(glob="**/*.jsonl"), "shop.yaml")
    assert decl is None
    assert any("overlaps the sources of pipeline 'thumbs'" in p.message and "ledger.jsonl" in p.message
               for p in problems), problems


def test_sources_beside_the_ledger_prefix_are_not() -> None:
    decl, problems, _ = load_text(DECL.format(glob="photos/**/*.jpg"), "shop.yaml")
    assert decl is not None and not problems
