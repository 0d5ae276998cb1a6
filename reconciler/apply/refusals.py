"""One refused rule must not take a call's good rules down: tell a deterministic refusal from a transient
failure (``declare.ci_errors``, the one classification), and find the refused rule by splitting the call.

A call packs up to five rules and CI answers for the whole request: a refusal for one rule fails them all, and
retrying the same call can never succeed. CI does not document which rule a refusal is about, so nothing here
reads the error's message: the call is bisected. Suspects (the rules among which a refused one hides) are halved
by issuing half of them alone: a call that succeeds makes its rules and leaves the other half suspected, one that
is refused narrows the suspects to its half (the other half waits, not suspected, for one call of its own: a
rule is blamed only when proven, never by a guess). Isolating a refused rule among n takes at most
⌈log2 n⌉ calls (3 for 5), and the good rules are made in those calls or in one more: for one refused rule among
five, at most 4 extra calls where issuing each rule alone cost 5 (an exhaustive search over strategies shows no
strategy that makes every good rule needs fewer than 4 in the worst case). A refusal that blames the source
(``Verdict.splittable`` false) is not split: every rule would fail on it. Nothing here retries a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.apply.contract import Failure
from reconciler.declare.ci_errors import Verdict, classify
from reconciler.errors import StorageError
from reconciler.model import Call, RuleOp


def verdict(error: StorageError) -> Verdict:
    """The classification of a failed call (``declare.ci_errors.classify``)."""
    return classify(error.status, error.code or "")


def is_refusal(error: StorageError) -> bool:
    """A deterministic refusal of the request's content: retrying it as it is cannot succeed."""
    return not error.retryable and verdict(error).refusal


def is_refused(failure: Failure) -> bool:
    """Whether a report row is a refusal (a retry of the same rule cannot succeed)."""
    return classify(failure.status, failure.code).refusal


@dataclass(frozen=True)
class Split:
    """The outcome of re-issuing a refused call: what was made, what was refused (with why), what failed for
    another reason (a retry may make it), and the extra calls it cost."""

    made: tuple[RuleOp, ...]
    refused: tuple[tuple[RuleOp, StorageError], ...]
    extra_calls: int
    failed: tuple[tuple[RuleOp, StorageError], ...] = ()


Issue = Callable[[Call], StorageError | None]  # issues a call; the error, or None when it succeeded


def split_refused(call: Call, error: StorageError, issue: Issue) -> Split:
    """Bisect a refused ``call`` (see the module docstring); ``issue`` performs (and paces, retries) a call."""
    ops = tuple(call.rules)
    if len(ops) == 1 or not verdict(error).splittable:
        return Split((), tuple((op, error) for op in ops), 0)
    suspects: tuple[RuleOp, ...] = ops  # proven to hold a refused rule
    pending: tuple[RuleOp, ...] = ()  # not made yet, not suspected
    made: list[RuleOp] = []
    refused: list[tuple[RuleOp, StorageError]] = []
    calls, last = 0, error
    while True:
        if len(suspects) == 1:  # proven: a call of suspects alone was refused, the others were made
            refused.append((suspects[0], last))
            suspects = ()
        if not suspects and not pending:
            return Split(tuple(made), tuple(refused), calls)
        group = suspects[:len(suspects) // 2] if suspects else pending
        calls += 1
        failed = issue(subcall(call, group))
        if failed is None:
            made.extend(group)
            suspects, pending = (suspects[len(suspects) // 2:], pending) if suspects else ((), ())
            continue
        if not is_refusal(failed) or not verdict(failed).splittable:  # a transient failure, or the source
            rest = tuple((op, failed) for op in suspects + pending)
            if is_refusal(failed):
                return Split(tuple(made), tuple(refused) + rest, calls)
            return Split(tuple(made), tuple(refused), calls, rest)
        last = failed
        if suspects:
            half = len(suspects) // 2
            suspects, pending = suspects[:half], pending + suspects[half:]
        else:
            suspects, pending = pending, ()


def subcall(call: Call, ops: tuple[RuleOp, ...]) -> Call:
    """The call of ``ops`` only, each rule keeping its target (its action, reason and detail)."""
    wanted = {(op.bucket, op.key) for op in ops}
    kept = [(target, key) for target, key in call.pairs() if (target.bucket, key) in wanted]
    return Call(call.bucket, call.key, call.source_etag, tuple(t for t, _ in kept), tuple(k for _, k in kept))


def refusal_message(op: RuleOp, error: StorageError, split: Split, size: int) -> str:
    """The report's message for a refused output: who is to blame (the source or the rule, from CI's code),
    CI's message, and what the refusal cost."""
    found = verdict(error)
    cost = (f"; the call's other {size - 1} rule(s) were re-issued without it ({split.extra_calls} extra "
            f"call(s))" if size > 1 and found.splittable else "")
    if found.unprocessable_source:
        return (f"refused by Cloud Infinite: the source {error.key or ''} is not an image it can process "
                f"({found.describe()}); no rule can make it (a retry cannot succeed): {error.detail or error}")
    if not found.by_cloud:
        return (f"not emulated by the local server (the cloud may accept it): rule {op.rule!r}: "
                f"{error.detail or error}{cost}")
    return (f"refused by Cloud Infinite (a retry cannot succeed; fix the rule): rule {op.rule!r} "
            f"({found.describe()}): {error.detail or error}{cost}")


def failure_summary(failures: tuple[Failure, ...]) -> str:
    """What apply says when outputs failed: a retry is suggested only for what a retry can make, and each refusal
    names its culprit (the source, the rule, or the local server)."""
    verdicts = [classify(f.status, f.code) for f in failures]
    sources = sum(1 for v in verdicts if v.unprocessable_source)
    local = sum(1 for v in verdicts if v.refusal and not v.by_cloud)
    rules = sum(1 for v in verdicts if v.refusal) - sources - local
    parts = [f"{rules} refused by Cloud Infinite: fix their rules" if rules else "",
             f"{sources} whose source is not an image Cloud Infinite can process" if sources else "",
             f"{local} not emulated by the local server" if local else ""]
    why = "; ".join(p for p in parts if p)
    refused = rules + sources + local
    if refused == len(failures):
        return f"{refused} output(s) not made ({why}); applying again cannot make them"
    if refused:
        return f"{len(failures)} output(s) failed; run apply again to retry the others ({why})"
    return f"{len(failures)} output(s) failed; run apply again to retry them"
