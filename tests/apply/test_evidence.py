"""Recording only with evidence, against an in-memory Storage that can misbehave in ways the server cannot be made
to: a multi-rule call that writes its first output and then fails, a source that moves before its call, a
"successful" call whose output is not there, a ProcessResults ETag that differs from HEAD's."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from reconciler.errors import StorageError
from reconciler.apply.contract import ApplyOptions
from reconciler.apply.engine import apply_plan
from reconciler.pacing import RetryPolicy
from reconciler.model import ActionKind, Call, Ledger, LedgerEntry, Plan, PlannedAction, Reason, RuleOp, SetPlan
from reconciler.state.store import LedgerStore
from reconciler.storage import ProcessedObject, ProcessResult
from reconciler.storage.memory import MemoryStorage

from tests.apply.conftest import SRC, declaration

OPTIONS = ApplyOptions(parallelism=2, max_qps=0, retry=RetryPolicy(attempts=3, base=0.001, cap=0.002))


class Misbehaving(MemoryStorage):
    """The in-memory Storage, with faults: a call that writes its first output then fails, outputs that are never
    written though the call succeeds, a source whose first calls are throttled."""

    def __init__(self) -> None:
        super().__init__({SRC: {}})
        self.fail_after_first_rule: set[str] = set()
        self.drop_outputs: set[str] = set()
        self.throttle_first: dict[str, int] = {}

    def process(self, bucket: str, key: str, pic_operations: str) -> ProcessResult:
        if self.throttle_first.get(key, 0) > 0:
            self.throttle_first[key] -= 1
            self.writes.append(("image_process", bucket, key))
            raise StorageError("Please reduce your request rate.", bucket=bucket, key=key, status=503,
                               code="SlowDown", request_id="req-slow", retryable=True)
        return super().process(bucket, key, pic_operations)

    def make_output(self, bucket: str, key: str, index: int, rule: Mapping[str, Any]) -> ProcessedObject:
        if index == 1 and key in self.fail_after_first_rule:
            raise StorageError("processing failed", bucket=bucket, key=key, status=500,  # not a refusal
                               code="InternalError", request_id="req-1")
        if rule["fileid"].lstrip("/") in self.drop_outputs:
            return ProcessedObject(rule["fileid"].lstrip("/"), "f" * 40)
        return super().make_output(bucket, key, index, rule)


class MemoryBackend:
    def __init__(self, tmp: Path) -> None:
        self.store = Misbehaving()
        self.ledgers = LedgerStore(self.storage, tmp / "state")

    def storage(self, region: str) -> Misbehaving:
        return self.store


def _call(source: str, etag: str, *outputs: str) -> Call:
    return Call.of_rules(SRC, source, etag, tuple(RuleOp(f"p.{o}", f"rule/{o}", "/" + o, SRC, o, f"fp-{o}") for o in outputs))


def _plan(calls: list[Call], actions: list[PlannedAction], generation: str = "0") -> Plan:
    return Plan((SetPlan("shop", "digest", generation, tuple(actions), tuple(calls), {}),))


def _creates(call: Call) -> list[PlannedAction]:
    return [PlannedAction(ActionKind.CREATE, r.address, r.bucket, r.key, call.key, Reason.MISSING) for r in call.rules]


def test_partial_failure_records_only_outputs_with_evidence(tmp_path: Path) -> None:
    backend = MemoryBackend(tmp_path)
    storage = backend.store
    etag = storage.put_object(SRC, "a.jpg", b"A")
    storage.put_object(SRC, "old.webp", b"previous output")
    old_etag = hashlib.md5(b"previous output").hexdigest()
    ledger = Ledger("shop", "0", {(SRC, "old.webp"): LedgerEntry(SRC, "old.webp", "p.old.webp", "a.jpg", "e0",
                                                                 "fp-old", old_etag, "t")})
    decl = declaration()
    backend.ledgers.write_ledger(decl, ledger)
    # rule 1 (a create) is written, rule 2 fails the request: old.webp was a replace and x.png a create
    call = _call("a.jpg", etag, "new.webp", "old.webp", "x.png")
    storage.fail_after_first_rule.add("a.jpg")
    call = Call.of_rules(SRC, "a.jpg", etag, call.rules, {(SRC, "old.webp"): (ActionKind.REPLACE, Reason.RULE_CHANGED, "")})
    actions = _creates(call)
    actions[1] = PlannedAction(ActionKind.REPLACE, "p.old.webp", SRC, "old.webp", "a.jpg", Reason.RULE_CHANGED)
    report = apply_plan(_plan([call], actions), [decl], backend, OPTIONS)  # type: ignore[arg-type]
    assert report.created == 1 and report.failed == 2 and report.calls == 1
    assert {(f.key, f.code, f.request_id) for f in report.failures} == {("old.webp", "InternalError", "req-1"),
                                                                       ("x.png", "InternalError", "req-1")}
    entries = backend.ledgers.read(decl).entries
    assert entries[(SRC, "new.webp")].output_etag == storage.head_object(SRC, "new.webp").etag  # type: ignore
    assert entries[(SRC, "old.webp")].output_etag == old_etag  # untouched: no evidence it was remade
    assert (SRC, "x.png") not in entries


def test_moved_source_is_skipped_and_missing_output_fails(tmp_path: Path) -> None:
    backend = MemoryBackend(tmp_path)
    storage = backend.store
    storage.put_object(SRC, "moved.jpg", b"new content")
    etag_b = storage.put_object(SRC, "b.jpg", b"B")
    moved = _call("moved.jpg", "etag-at-plan-time", "m.webp")
    lost = _call("b.jpg", etag_b, "b.webp")
    storage.drop_outputs.add("b.webp")
    report = apply_plan(_plan([moved, lost], _creates(moved) + _creates(lost)), [declaration()], backend,  # type: ignore[arg-type]
                        replace(OPTIONS, recheck_sources=True))
    assert [(s.key, s.reason) for s in report.skipped] == [("m.webp", "source changed since the plan")]
    assert [(f.key, f.code) for f in report.failures] == [("b.webp", "NotMade")]
    assert storage.process_calls == 1  # the moved source was never processed
    assert backend.ledgers.read(declaration()).entries == {}


def test_throttled_call_is_retried_and_recorded_with_heads_etag(tmp_path: Path) -> None:
    backend = MemoryBackend(tmp_path)
    storage = backend.store
    etag = storage.put_object(SRC, "a.jpg", b"A")
    call = _call("a.jpg", etag, "a.webp")
    storage.throttle_first["a.jpg"] = 2
    report = apply_plan(_plan([call], _creates(call)), [declaration()], backend, OPTIONS)  # type: ignore[arg-type]
    assert report.created == 1 and report.calls == 1 and report.attempts == 3 and report.failed == 0
    entry = backend.ledgers.read(declaration()).entries[(SRC, "a.webp")]
    assert entry.output_etag == storage.head_object(SRC, "a.webp").etag != "f" * 40  # type: ignore[union-attr]
    assert (entry.source_etag, entry.fingerprint, entry.address) == (etag, "fp-a.webp", "p.a.webp")


def test_exhausted_retries_fail_only_that_calls_outputs(tmp_path: Path) -> None:
    backend = MemoryBackend(tmp_path)
    storage = backend.store
    ok = _call("ok.jpg", storage.put_object(SRC, "ok.jpg", b"1"), "ok.webp")
    slow = _call("slow.jpg", storage.put_object(SRC, "slow.jpg", b"2"), "slow.webp")
    storage.throttle_first["slow.jpg"] = 99
    report = apply_plan(_plan([ok, slow], _creates(ok) + _creates(slow)), [declaration()], backend,  # type: ignore[arg-type]
                        OPTIONS)
    assert report.created == 1
    assert [(f.key, f.code, f.status, f.request_id) for f in report.failures] == [("slow.webp", "SlowDown", 503,
                                                                                   "req-slow")]
