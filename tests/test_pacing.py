"""Unit tests of the token bucket, the retry policy, the Pic-Operations header and the journal writer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from reconciler.errors import StorageError
from reconciler.apply.contract import ApplyOptions, check_budget
from reconciler.apply.engine import pic_operations
from reconciler.pacing import RetryPolicy, TokenBucket, with_retries
from reconciler.errors import BudgetExceeded
from reconciler.state.ledger import JournalRecord
from reconciler.model import ObjectInfo, ActionKind, Call, LedgerEntry, Plan, PlannedAction, Reason, RuleOp, SetPlan
from reconciler.state.journal import Journal
from reconciler.state.store import LedgerStore

from tests.apply.conftest import declaration


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_paces_to_the_rate_after_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(205):
        bucket.acquire()
    assert clock.now == pytest.approx(2.0, abs=1e-6)  # 5 free, then 200 at 100/s
    assert all(s > 0 for s in clock.slept)


def test_token_bucket_reservations_queue_concurrent_callers() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock, sleep=clock.sleep)
    waits = [bucket.reserve() for _ in range(4)]  # four workers arriving at once
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_token_bucket_try_take_refuses_when_empty_without_taking() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, burst=2, clock=clock, sleep=clock.sleep)  # as the local server's CI rate limit
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]
    clock.now += 0.25  # half a token: still refused, and the refusal took nothing
    assert not bucket.try_take()
    clock.now += 0.25
    assert bucket.try_take() and not bucket.try_take()
    assert clock.slept == [] and TokenBucket(0).try_take()


def test_token_bucket_refills_while_idle_but_not_beyond_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=2, clock=clock, sleep=clock.sleep)
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    clock.now += 100
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


def test_unlimited_bucket_never_waits() -> None:
    bucket = TokenBucket(0)
    assert [bucket.reserve() for _ in range(1000)] == [0.0] * 1000


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=8, base=0.1, cap=5.0)
    highest = [policy.delay(n, rand=lambda lo, hi: hi) for n in range(1, 9)]
    assert highest == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert policy.delay(3, rand=lambda lo, hi: lo) == 0.0


def test_retries_only_retryable_errors_and_gives_up() -> None:
    slept: list[float] = []
    attempts = []

    def throttled() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise StorageError("slow down", code="SlowDown", status=503, retryable=True)
        return "ok"

    assert with_retries(throttled, RetryPolicy(), sleep=slept.append) == "ok"
    assert len(attempts) == 3 and len(slept) == 2

    def bad() -> str:
        raise StorageError("bad rule", code="InvalidArgument", status=400)

    with pytest.raises(StorageError, match="bad rule"):
        with_retries(bad, RetryPolicy(), sleep=slept.append)
    assert len(slept) == 2  # not retried

    calls = []

    def always() -> str:
        calls.append(1)
        raise StorageError("down", code="InternalError", status=500, retryable=True)

    with pytest.raises(StorageError):
        with_retries(always, RetryPolicy(attempts=4), sleep=lambda s: None)
    assert len(calls) == 4


def test_pic_operations_is_ascii_json_with_bucket_only_when_it_differs() -> None:
    call = Call.of_rules("src-1250000000", "photos/café.jpg", "e", (
        RuleOp("p.a", "imageMogr2/format/webp", "/out/café.webp", "src-1250000000", "out/café.webp", "f"),
        RuleOp("p.b", "imageMogr2/format/png", "/x.png", "other-1250000000", "x.png", "f"),
    ))
    header = pic_operations(call)
    assert header.isascii()
    data = json.loads(header)
    assert data["rules"][0] == {"fileid": "/out/caf%C3%A9.webp", "rule": "imageMogr2/format/webp"}  # URL-encoded
    assert data["rules"][1]["bucket"] == "other-1250000000"


def _plan(calls: int, deletes: int) -> Plan:
    actions = tuple(PlannedAction(ActionKind.DELETE, "p.o", "b", f"k{i}", "", Reason.NOT_DECLARED)
                    for i in range(deletes))
    call = Call("b", "s", "e", (), ())
    return Plan((SetPlan("s", "d", "0", actions, (call,) * calls, {}),))


def test_budget_guards() -> None:
    check_budget(_plan(3, 2), ApplyOptions(max_calls=3, max_delete=2))
    with pytest.raises(BudgetExceeded, match="--max-calls allows 2"):
        check_budget(_plan(3, 0), ApplyOptions(max_calls=2))
    with pytest.raises(BudgetExceeded, match="--max-delete allows 0"):
        check_budget(_plan(0, 1), ApplyOptions(max_delete=0))


def _entry(key: str) -> LedgerEntry:
    return LedgerEntry("b", key, "p.o", "s", "e", "f", "o", "t")


def test_journal_flushes_by_count_and_by_time_and_on_close(tmp_path: Path) -> None:
    class Heads:
        def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
            return ObjectInfo(key, "etag-now") if key == "next" else None

    store = LedgerStore(lambda region: Heads(), tmp_path)  # type: ignore[arg-type,return-value]
    decl = declaration()
    journal = Journal(store, decl, "run", "0", interval=0.3, batch=3)
    journal.add([JournalRecord.put(_entry(f"k{i}")) for i in range(3)])  # a full batch: flushed promptly
    for _ in range(50):
        if journal.names:
            break
        time.sleep(0.02)
    assert len(journal.names) == 1
    journal.add([JournalRecord.put(_entry("late"))])  # below the batch: flushed by age (0.3 s)
    for _ in range(250):
        if len(journal.names) == 2:
            break
        time.sleep(0.02)
    assert len(journal.names) == 2
    journal.write_now([JournalRecord.intent(_entry("next"))])
    journal.add([JournalRecord.put(_entry("last"))])
    journal.close()
    assert len(journal.names) == 4
    snap = store.snapshot(decl)
    # "next" was an intent only: settled by HEAD (the object stands there), with the ETag HEAD shows
    assert {k for _, k in snap.ledger.entries} == {"k0", "k1", "k2", "late", "last", "next"}
    assert snap.ledger.entries[("b", "next")].output_etag == "etag-now"


def test_line_progress_prints_every_interval() -> None:
    import io

    from reconciler.cli.progress import LineProgress, make_progress

    stream = io.StringIO()
    progress = LineProgress(stream, interval=0)
    progress.start(10)
    progress.advance(done=3, calls=1)
    progress.advance(failed=1, calls=1)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("apply: 4/10 outputs, 2 calls (") and "1 failed, ETA" in lines[-1]
    assert isinstance(make_progress(io.StringIO()), LineProgress)  # not a terminal: plain lines
    assert make_progress(quiet=True) is None
