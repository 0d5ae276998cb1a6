"""apply.refusals without a server: which errors are refusals, and how many extra calls a refused call costs."""

from __future__ import annotations

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


def test_a_named_rule_costs_one_extra_call() -> None:
    issued: list[tuple[str, ...]] = []

    def issue(call: Call) -> StorageError | None:
        issued.append(tuple(op.address for op in call.rules))
        return None

    split = split_refused(_call(5), _refused("rules[2]: rcrop is not emulated"), issue)
    assert issued == [("p.o0", "p.o1", "p.o3", "p.o4")] and split.extra_calls == 1
    assert [op.address for op in split.made] == ["p.o0", "p.o1", "p.o3", "p.o4"]
    assert [(op.address, e.detail) for op, e in split.refused] == [("p.o2", "rules[2]: rcrop is not emulated")]


def test_an_unnamed_refusal_costs_one_call_per_rule_at_most() -> None:
    def issue(call: Call) -> StorageError | None:
        (op,) = call.rules
        return _refused("InvalidArgument") if op.address == "p.o3" else None

    split = split_refused(_call(5), _refused("InvalidArgument"), issue)
    assert split.extra_calls == 5 and [op.address for op, _ in split.refused] == ["p.o3"]
    assert len(split.made) == 4
    assert split_refused(_call(1), _refused("x"), issue).extra_calls == 0  # a lone rule is not re-issued


def test_pic_operations_sends_the_normalised_rule_and_the_url_encoded_fileid() -> None:
    import json

    from reconciler.apply.engine import pic_operations

    op = RuleOp("p.o", "imageMogr2/thumbnail/200x |imageMogr2/format/webp ", "/out/100% 中 +#?.webp", B,
                "out/100% 中 +#?.webp", "f")
    (sent,) = json.loads(pic_operations(Call.of_rules(B, "a.jpg", "e", (op,))))["rules"]
    assert sent == {"rule": "imageMogr2/thumbnail/200x|imageMogr2/format/webp",
                    "fileid": "/out/100%25%20%E4%B8%AD%20%2B%23%3F.webp"}
