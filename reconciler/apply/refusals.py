"""One refused rule must not take a call's good rules down: tell a deterministic refusal from a transient
failure, and re-issue the call's other rules without the refused one.

A call packs up to five rules and CI answers for the whole request: a 400 InvalidArgument (or kin) for one rule
fails them all, and retrying the same call can never succeed. When the error names the rule (``rules[i]``, as
the local server's messages do) the other rules are re-issued in one call; otherwise each rule is issued
alone, so a call costs at most ``len(rules)`` extra calls. The refused outputs are reported with their rule
and CI's message; the others are made in the same run. Nothing here retries a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.apply.contract import Failure
from reconciler.errors import StorageError
from reconciler.model import Call, RuleOp

REFUSAL_CODES = frozenset({"InvalidArgument", "InvalidRequest", "InvalidImageFormat", "InvalidParameter",
                           "FailedOperation", "UnsupportedFormat", "ImageTooLarge"})
_RULE_INDEX = re.compile(r"\brules\[(\d+)\]")


def is_refusal(error: StorageError) -> bool:
    """A deterministic refusal of the request's content: a non-retryable 400 with a refusal code."""
    return error.status == 400 and not error.retryable and (error.code or "") in REFUSAL_CODES


def is_refused(failure: Failure) -> bool:
    """Whether a report row is a refusal (a retry of the same rule cannot succeed)."""
    return failure.status == 400 and failure.code in REFUSAL_CODES


@dataclass(frozen=True)
class Split:
    """The outcome of re-issuing a refused call: what was made, what was refused (with why), the extra calls."""

    made: tuple[RuleOp, ...]
    refused: tuple[tuple[RuleOp, StorageError], ...]
    extra_calls: int


Issue = Callable[[Call], StorageError | None]  # issues a call; the error, or None when it succeeded


def split_refused(call: Call, error: StorageError, issue: Issue) -> Split:
    """Re-issue ``call``'s rules without the refused one(s); ``issue`` performs (and paces, retries) a call."""
    ops = tuple(call.rules)
    if len(ops) == 1:
        return Split((), ((ops[0], error),), 0)
    named = _RULE_INDEX.search(error.detail or str(error))
    if named is not None and int(named[1]) < len(ops):
        index = int(named[1])
        rest = ops[:index] + ops[index + 1:]
        if not rest:
            return Split((), ((ops[index], error),), 0)
        again = issue(subcall(call, rest))
        if again is None:
            return Split(rest, ((ops[index], error),), 1)
        alone = _one_by_one(call, rest, issue)
        return Split(alone.made, ((ops[index], error),) + alone.refused, 1 + alone.extra_calls)
    return _one_by_one(call, ops, issue)


def _one_by_one(call: Call, ops: tuple[RuleOp, ...], issue: Issue) -> Split:
    made: list[RuleOp] = []
    refused: list[tuple[RuleOp, StorageError]] = []
    for op in ops:
        failed = issue(subcall(call, (op,)))
        if failed is None:
            made.append(op)
        else:
            refused.append((op, failed))
    return Split(tuple(made), tuple(refused), len(ops))


def subcall(call: Call, ops: tuple[RuleOp, ...]) -> Call:
    """The call of ``ops`` only, each rule keeping its target (its action, reason and detail)."""
    wanted = {(op.bucket, op.key) for op in ops}
    kept = [(target, key) for target, key in call.pairs() if (target.bucket, key) in wanted]
    return Call(call.bucket, call.key, call.source_etag, tuple(t for t, _ in kept), tuple(k for _, k in kept))


def refusal_message(op: RuleOp, error: StorageError, split: Split, size: int) -> str:
    """The report's message for a refused output: the rule, CI's message, and what the refusal cost."""
    return (f"refused by Cloud Infinite (a retry cannot succeed; fix the rule): rule {op.rule!r}: "
            f"{error.detail or error}; the call's other {size - 1} rule(s) were re-issued without it "
            f"({split.extra_calls} extra call(s))")


def failure_summary(failures: tuple[Failure, ...]) -> str:
    """What apply says when outputs failed: a retry is suggested only for what a retry can make."""
    refused = sum(1 for f in failures if is_refused(f))
    if refused == len(failures):
        return f"{refused} output(s) refused by Cloud Infinite: fix their rules (applying again cannot make them)"
    if refused:
        return (f"{len(failures)} output(s) failed; run apply again to retry the others ({refused} refused by "
                "Cloud Infinite: fix their rules)")
    return f"{len(failures)} output(s) failed; run apply again to retry them"
