"""``apply.packing``: one key's outputs of several sets cut into requests of at most five rules, in set order."""

from __future__ import annotations

from reconciler.apply.packing import merged, pack
from reconciler.model import Call, Target


def call(n: int, name: str) -> Call:
    targets = tuple(Target(f"p.{name}{i}", f"rule{i}", "b-1", "fp", False) for i in range(n))
    return Call("b-1", "k.jpg", "etag", targets, tuple(f"{name}/{i}.jpg" for i in range(n)))


def shape(requests: list[list[tuple[str, Call]]]) -> list[list[tuple[str, int]]]:
    return [[(owner, piece.size) for owner, piece in request] for request in requests]


def test_pack_fills_requests_across_sets_in_order() -> None:
    assert shape(pack([("a", call(4, "a")), ("b", call(3, "b"))])) == [[("a", 4), ("b", 1)], [("b", 2)]]
    assert shape(pack([("a", call(6, "a")), ("b", call(1, "b"))])) == [[("a", 5)], [("a", 1), ("b", 1)]]
    assert shape(pack([("a", call(5, "a")), ("a", call(5, "a"))])) == [[("a", 5)], [("a", 5)]]
    assert pack([]) == []


def test_pieces_keep_their_rules_and_merge_back() -> None:
    requests = pack([("a", call(4, "a")), ("b", call(3, "b"))])
    assert [k for _, piece in requests[0] for k in piece.keys] == ["a/0.jpg", "a/1.jpg", "a/2.jpg", "a/3.jpg",
                                                                    "b/0.jpg"]
    whole = merged(requests[1])
    assert whole.keys == ("b/1.jpg", "b/2.jpg") and whole.targets[0].address == "p.b1" and whole.key == "k.jpg"
