"""apply.refusals without a server: which errors are refusals, and how many extra calls a refused call costs."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from reconciler.apply.refusals import is_refusal, split_refused
from reconciler.errors import StorageError
from reconciler.model import Call, RuleOp

B = "src-1250000000"


def _call(n: int) -> Call:
    return Call.of_rules(B, "a.jpg", "e", tuple(RuleOp(f"p.o{i}", f"imageMogr2/thumbnail/{i + 1}x", f"/o{i}.jpg", B,
                                              f"o{i}.jpg", "f") for i in range(n)))


def _refused(message: str) -> StorageError:
    return StorageError(message, bucket=B, key="a.jpg", status=400, code="InvalidArgument")


def test_only_deterministic_400s_are_refusals() -> None:
    assert is_refusal(_refused("bad rule"))
    assert not is_refusal(StorageError("slow", status=503, code="SlowDown", retryable=True))
    assert not is_refusal(StorageError("boom", status=500, code="InternalError"))
    assert not is_refusal(StorageError("denied", status=403, code="AccessDenied"))
    assert is_refusal(StorageError("bad rule", status=400, code="-60998"))
    assert is_refusal(StorageError("no style", status=404, code="-60967"))
    assert not is_refusal(StorageError("too frequent", status=400, code="-60949"))


def _issuer(bad: set[str], log: list[tuple[str, ...]]) -> Callable[[Call], StorageError | None]:
    def issue(call: Call) -> StorageError | None:
        log.append(tuple(op.address for op in call.rules))
        return _refused("refused") if bad & {op.address for op in call.rules} else None

    return issue


@pytest.mark.parametrize("bad", range(5))
def test_one_refused_rule_of_five_is_isolated_by_bisection(bad: int) -> None:
    """Never by the message: the message names a different rule and is ignored."""
    log: list[tuple[str, ...]] = []
    split = split_refused(_call(5), _refused("rules[0]: misleading text"), _issuer({f"p.o{bad}"}, log))
    assert [op.address for op, _ in split.refused] == [f"p.o{bad}"]
    assert sorted(op.address for op in split.made) == sorted(f"p.o{i}" for i in range(5) if i != bad)
    assert split.extra_calls == len(log) <= 4  # at most ceil(log2 5) = 3 to isolate, + 1 to make the rest
    assert all(f"p.o{bad}" not in group or len(group) == 1 or split.refused for group in log)


def test_every_subset_of_refused_rules_is_found_and_no_good_rule_is_blamed() -> None:
    for size in range(2, 6):
        for count in range(1, size + 1):
            for bad in itertools.combinations(range(size), count):
                names = {f"p.o{i}" for i in bad}
                log: list[tuple[str, ...]] = []
                split = split_refused(_call(size), _refused("x"), _issuer(names, log))
                assert {op.address for op, _ in split.refused} == names, (size, bad)
                assert {op.address for op in split.made} == {f"p.o{i}" for i in range(size)} - names
                assert split.extra_calls == len(log) <= count * 3 + 1


def test_a_source_refusal_is_not_split_and_a_lone_rule_is_not_reissued() -> None:
    log: list[tuple[str, ...]] = []
    source = StorageError("not an image", bucket=B, key="a.jpg", status=400, code="-62999")
    split = split_refused(_call(5), source, _issuer(set(), log))
    assert log == [] and len(split.refused) == 5 and split.made == ()
    assert split_refused(_call(1), _refused("x"), _issuer(set(), log)).extra_calls == 0 and log == []


def test_a_transient_failure_while_splitting_is_a_failure_not_a_refusal() -> None:
    def issue(call: Call) -> StorageError | None:
        return StorageError("slow", status=503, code="SlowDown", retryable=True)

    split = split_refused(_call(3), _refused("x"), issue)
    assert split.refused == () and len(split.failed) == 3 and split.extra_calls == 1


def test_pic_operations_sends_the_normalised_rule_and_the_url_encoded_fileid() -> None:
    import json

    from reconciler.apply.engine import pic_operations

    op = RuleOp("p.o", "imageMogr2/thumbnail/200x |imageMogr2/format/webp ", "/out/100% 中 +#?.webp", B,
                "out/100% 中 +#?.webp", "f")
    (sent,) = json.loads(pic_operations(Call.of_rules(B, "a.jpg", "e", (op,))))["rules"]
    assert sent == {"rule": "imageMogr2/thumbnail/200x|imageMogr2/format/webp",
                    "fileid": "/out/100%25%20%E4%B8%AD%20%2B%23%3F.webp"}
