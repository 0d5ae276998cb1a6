"""Does a fresh plan stay within a reviewed one? (PURE: compares two plans.)

``plan --within REVIEWED`` asks it after a merge: the plan made now (on the merge commit, against the ledger as it
is now) may do less than the plan reviewed on the pull request — another apply did some of it, a source went — but
never more. Everything the fresh plan would write (each call's rule: source and its ETag, address, rule, fileid,
destination, fingerprint, create or replace) and every delete must be in the reviewed plan; declaration digests
and ledger generations are not compared (a parallel pull request merged first moves both, and that alone adds
nothing). What the fresh plan adds is named, so the team reviews exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.model import ActionKind, Call, Plan, PlannedAction

Item = tuple[str, ...]


def _call_items(call: Call) -> Iterator[Item]:
    for op, change in zip(call.rules, call.changes()):
        yield (call.bucket, call.key, call.source_etag, op.address, op.rule, op.fileid, op.bucket, op.key,
               op.fingerprint, change.action.value)


def _delete_item(a: PlannedAction) -> Item:
    return (a.address, a.bucket, a.key, a.source)


def additions(fresh: Plan, reviewed: Plan) -> tuple[int, list[str]]:
    """How many things ``fresh`` would do that ``reviewed`` does not, and a description of the first ten."""
    by_name = {s.name: s for s in reviewed.sets}
    count, shown = 0, list[str]()
    for s in fresh.sets:
        old = by_name.get(s.name)
        writes = {item for call in old.calls for item in _call_items(call)} if old is not None else set()
        deletes = ({_delete_item(a) for a in old.other_actions() if a.action is ActionKind.DELETE}
                   if old is not None else set())
        for call in s.calls:
            for item in _call_items(call):
                if item not in writes:
                    count += 1
                    if len(shown) < 10:
                        shown.append(f"set {s.name}: {item[9]} {item[6]}/{item[7]} ({item[3]}: rule {item[4]!r}) "
                                     f"from {item[0]}/{item[1]} (ETag {item[2]})")
        for action in s.other_actions():
            if action.action is ActionKind.DELETE and _delete_item(action) not in deletes:
                count += 1
                if len(shown) < 10:
                    shown.append(f"set {s.name}: delete {action.bucket}/{action.key} ({action.address})")
    return count, shown
