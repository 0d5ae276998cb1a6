"""The plan document: ``plan --format json`` prints it, ``plan --out FILE`` saves it, ``apply --plan FILE`` loads it.

Versioned plain JSON (``format_version`` 1, schema ``schemas/plan.schema.json``) carrying, per set, the
declaration digest and ledger generation the plan was made from, so apply can refuse a stale plan. Writing streams
one action or call per line (plans of millions of outputs never become one giant string); saving is atomic (temp
file + rename). Loading reads a saved plan a line at a time, holding a create or replace action only until the call
that makes it is read; it checks everything and raises ``StateError`` naming the file and what is wrong.
"""

from __future__ import annotations

# Over 300 lines: the saved-plan format's writer and reader side by side, so the two cannot drift apart.

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from reconciler.errors import StateError
from reconciler.model import (ActionKind, Call, Plan, PlanActions, PlannedAction, Reason, SetPlan, Target,
                              fileid_is_absolute)

FORMAT_VERSION = 1
_SCHEMA_CHECK_LIMIT = 1_000  # past this many items the schema checks a sample; strict parsing checks all (a wrong
# item past the sample is then checked alone, and named by its index)


def summary(plan: Plan | SetPlan) -> dict[str, int]:
    counts = {k.value: plan.count(k) for k in ActionKind}
    calls = plan.calls if isinstance(plan, Plan) else len(plan.calls)
    return {
        "create": counts["create"],
        "replace": counts["replace"],
        "delete": counts["delete"],
        "unchanged": counts["unchanged"],
        "conflict": counts["conflict"],
        "orphaned": counts["orphaned"],
        "calls": calls,
    }


def _set_data(s: SetPlan) -> dict[str, Any]:
    return {
        "name": s.name,
        "declaration_digest": s.declaration_digest,
        "ledger_generation": s.ledger_generation,
        "prune": s.prune,
        "summary": summary(s),
        "unchanged": dict(s.unchanged),
        "rule_changes": {a: {"old": o, "new": n} for a, (o, n) in s.rule_changes.items()},
    }


def action_data(set_name: str, a: PlannedAction) -> dict[str, str]:
    return {"set": set_name, "action": a.action.value, "address": a.address, "bucket": a.bucket, "key": a.key,
            "source": a.source, "reason": a.reason.value, "detail": a.detail}


def call_data(set_name: str, c: Call) -> dict[str, Any]:
    return {"set": set_name, "bucket": c.bucket, "key": c.key, "source_etag": c.source_etag,
            "rules": [{"address": r.address, "rule": r.rule, "fileid": r.fileid, "bucket": r.bucket, "key": r.key,
                       "fingerprint": r.fingerprint} for r in c.rules]}


def plan_to_data(plan: Plan) -> dict[str, Any]:
    """The whole plan document as one value (fine for tests and small plans; ``write_plan`` streams)."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": "plan",
        "summary": summary(plan),
        "sets": [_set_data(s) for s in plan.sets],
        "actions": [action_data(s.name, a) for s in plan.sets for a in s.actions],
        "calls": [call_data(s.name, c) for s in plan.sets for c in s.calls],
    }


def iter_plan_json(plan: Plan, indent: bool = True, extra: Mapping[str, Any] | None = None) -> Iterator[str]:
    """The plan document in pieces, one action or call per line; ``extra`` adds fields to its head (the estimate
    of ``plan --format json``; a saved plan has none)."""
    dumps = json.dumps
    sep = "\n  " if indent else ""
    head = {"format_version": FORMAT_VERSION, "kind": "plan", "summary": summary(plan),
            "sets": [_set_data(s) for s in plan.sets], **(extra or {})}
    yield dumps(head, indent=2 if indent else None, ensure_ascii=False)[:-1].rstrip() + ",\n"
    for field, items in (
        ("actions", (action_data(s.name, a) for s in plan.sets for a in s.actions)),
        ("calls", (call_data(s.name, c) for s in plan.sets for c in s.calls)),
    ):
        yield f'  "{field}": ['
        first = True
        for item in items:
            yield ("" if first else ",") + sep + "  " + dumps(item, ensure_ascii=False)
            first = False
        yield ("\n  ]" if not first else "]") + (",\n" if field == "actions" else "\n")
    yield "}\n"


def write_plan(plan: Plan, stream: TextIO) -> None:
    """Write the plan document to ``stream``, one action or call per line."""
    for chunk in iter_plan_json(plan):
        stream.write(chunk)


def save_plan(plan: Plan, path: Path) -> None:
    """Save atomically: a temp file next to ``path``, then rename. Raises StateError when it cannot."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or Path("."))
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            write_plan(plan, stream)
        os.replace(tmp, path)
    except OSError as exc:
        raise StateError(f"{path}: cannot save the plan: {exc.strerror or exc}") from exc


def load_plan(path: Path) -> Plan:
    """Read and check a saved plan. Raises StateError (file, JSON path, what is wrong) on anything else."""
    try:
        return _load_plan(path)
    except RecursionError:
        raise StateError(f"{path}: not a cosrecon plan (nested too deeply)") from None
    except ValueError as exc:  # json raises a bare ValueError for an integer past Python's int-from-string limit
        reason = "a number too long to read" if "digits" in str(exc) else "invalid JSON"
        raise StateError(f"{path}: not a cosrecon plan ({reason})") from None


def _load_plan(path: Path) -> Plan:
    """``load_plan`` but for the errors of the JSON decoder itself.

    A plan laid out as ``save_plan`` writes it (one action or call per line) is read a line at a time: a plan of
    10^6 sources is never one JSON document in memory. Any other layout of the same JSON is read whole."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as stream:
            plan = _read_lines(stream, str(path))
        if plan is not None:
            return plan
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise StateError(f"{path}: not a cosrecon plan (not UTF-8 text)") from exc
    except OSError as exc:
        raise StateError(f"{path}: cannot read the plan: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"{path}:{exc.lineno}:{exc.colno}: not a cosrecon plan (invalid JSON: {exc.msg})") from exc
    return plan_from_data(data, where=str(path))


def _read_lines(stream: TextIO, where: str) -> Plan | None:
    """The plan from its lines as ``iter_plan_json`` writes them; None when they are laid out otherwise."""
    head: list[str] = []
    for line in stream:
        if line.startswith('  "actions": ['):
            break
        head.append(line)
    else:
        return None
    try:
        header = json.loads("".join(head).rstrip().removesuffix(",") + "}")
    except json.JSONDecodeError:
        return None
    _check_header(header, where)
    sample: dict[str, Any] = dict(header, actions=[], calls=[])
    builder = _Builder()
    for field, next_field in (("actions", '  "calls": ['), ("calls", "}")):
        items, index = sample[field], 0
        closing = line.rstrip("\n").endswith("[]" + ("," if field == "actions" else ""))
        while not closing:
            line = stream.readline()
            text = line.strip()
            if text in ("]", "],"):
                break
            if not text:
                return None
            try:
                item = json.loads(text.removesuffix(","))
            except json.JSONDecodeError:
                return None
            if len(items) < _SCHEMA_CHECK_LIMIT:
                items.append(item)
            _add(builder, field, index, item, sample, where)
            index += 1
        line = stream.readline()
        if not line.startswith(next_field):
            return None
    if stream.read().strip():
        return None
    _check_schema(sample, where)  # the whole header and the first items, as for a plan read whole
    return _finish(builder, header, sample, where)


def _check_header(data: Any, where: str) -> None:
    if not isinstance(data, dict) or data.get("kind") != "plan":
        raise StateError(f"{where}: not a cosrecon plan (expected a JSON object with \"kind\": \"plan\")")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise StateError(f"{where}: plan format_version {version!r} is not supported (this cosrecon reads "
                         f"{FORMAT_VERSION}); make the plan again with this version")


def _add(builder: _Builder, field: str, index: int, item: Any, sample: dict[str, Any], where: str) -> None:
    """Item ``index`` of ``field`` into ``builder``; what the schema says of it (or the parse error) when wrong."""
    try:
        if field == "actions":
            builder.action(item)
        else:
            builder.call(item)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if index < _SCHEMA_CHECK_LIMIT:
            _check_schema(sample, where)
        else:  # past the sample: the item alone, under its own index
            _check_schema(dict(sample, **{field: [item]}), where, (f"$.{field}[0]", f"$.{field}[{index}]"))
        raise StateError(f"{where}: {field}[{index}]: not a valid cosrecon plan ({type(exc).__name__}: {exc})"
                         ) from exc


def _finish(builder: _Builder, header: Mapping[str, Any], sample: Mapping[str, Any], where: str) -> Plan:
    try:
        return builder.finish(header["sets"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        _check_schema(sample, where)
        raise StateError(f"{where}: not a valid cosrecon plan ({type(exc).__name__}: {exc})") from exc


def _check_schema(data: Any, where: str, rename: tuple[str, str] = ("", "")) -> None:
    from reconciler.declare.schemas import validate_document  # the jsonschema wrapper; imported when loading only

    sample = data
    if isinstance(data, dict):
        sample = dict(data)
        for field in ("actions", "calls"):
            if isinstance(data.get(field), list) and len(data[field]) > _SCHEMA_CHECK_LIMIT:
                sample[field] = data[field][:_SCHEMA_CHECK_LIMIT]
    problems = validate_document("plan", sample)
    if problems:
        old, new = rename
        shown = [f"{p.replace(old, new, 1) if old else p}: {m}" for p, m in problems[:10]]
        more = [f"... and {len(problems) - 10} more"] if len(problems) > 10 else []
        raise StateError(f"{where}: not a valid cosrecon plan:", shown + more)


def plan_from_data(data: Any, *, where: str = "plan") -> Plan:
    """The ``Plan`` a plan document describes (the inverse of ``plan_to_data``)."""
    _check_header(data, where)
    _check_schema(data, where)
    try:
        builder = _Builder()
        for action in data["actions"]:
            builder.action(action)
        for call in data["calls"]:
            builder.call(call)
        return builder.finish(data["sets"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"{where}: not a valid cosrecon plan ({type(exc).__name__}: {exc})") from exc


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


class _Builder:
    """A plan from its actions, then its calls, one at a time. A create or replace action is held only until the
    call rule making it is read (the call's target carries it, as the planner's calls do); every rule must have one
    and every such action must be made by one rule."""

    _MAKES = (ActionKind.CREATE, ActionKind.REPLACE)

    def __init__(self) -> None:
        self.others: dict[str, list[PlannedAction]] = {}  # set -> deletes, conflicts, orphans
        self.why: dict[str, dict[tuple[str, str], tuple[tuple[ActionKind, Reason, str], str]]] = {}
        self.calls: dict[str, list[Call]] = {}
        self.shared: dict[Any, Any] = {}  # equal targets, reasons and source keys: one object

    def action(self, a: Mapping[str, Any]) -> None:
        kind, reason = ActionKind(a["action"]), Reason(a["reason"])
        name, bucket, key, source = _str(a["set"]), _str(a["bucket"]), _str(a["key"]), _str(a["source"])
        detail, address = _str(a["detail"]), _str(a["address"])
        if kind not in self._MAKES:
            self.others.setdefault(name, []).append(PlannedAction(kind, address, bucket, key, source, reason, detail))
            return
        why = self.why.setdefault(name, {})
        if (bucket, key) in why:
            raise ValueError(f"{bucket}/{key} has two create or replace actions")
        share = self.shared.setdefault
        why[(bucket, key)] = (share((kind, reason, detail), (kind, reason, detail)), share(source, source))

    def call(self, c: Mapping[str, Any]) -> None:
        name, bucket, key, etag = _str(c["set"]), _str(c["bucket"]), _str(c["key"]), _str(c["source_etag"])
        rules = c["rules"]
        if not isinstance(rules, list) or not 1 <= len(rules) <= 5:
            raise ValueError(f"a call of {key!r} has {len(rules)} rules (1 to 5 allowed)")
        why, share = self.why.get(name, {}), self.shared.setdefault
        targets: list[Target] = []
        keys: list[str] = []
        for r in rules:
            address, rule, fileid = _str(r["address"]), _str(r["rule"]), _str(r["fileid"])
            out_bucket, out_key, fingerprint = _str(r["bucket"]), _str(r["key"]), _str(r["fingerprint"])
            absolute = fileid_is_absolute(key, address, fileid, out_key)
            made = why.pop((out_bucket, out_key), None)
            if made is None or made[1] != key:
                raise ValueError(f"rule {address} of {key!r} makes {out_bucket}/{out_key}, which no create or "
                                 "replace action of that source names")
            target = Target(address, rule, out_bucket, fingerprint, absolute, *made[0])
            targets.append(share(target, target))
            keys.append(out_key)
        self.calls.setdefault(name, []).append(Call(bucket, key, etag, tuple(targets), tuple(keys)))

    def finish(self, sets_data: Any) -> Plan:
        left = [f"{b}/{k}" for why in self.why.values() for b, k in why]
        if left:
            raise ValueError(f"create or replace actions that no call makes: {', '.join(sorted(left)[:5])}")
        sets, names = [], set()
        for s in sets_data:
            name = _str(s["name"])
            names.add(name)
            calls = tuple(self.calls.get(name, ()))
            sets.append(SetPlan(
                name=name,
                declaration_digest=_str(s["declaration_digest"]),
                ledger_generation=_str(s["ledger_generation"]),
                actions=PlanActions(calls, self.others.get(name, ())),
                calls=calls,
                unchanged={_str(k): int(v) for k, v in s["unchanged"].items()},
                rule_changes={_str(k): (_str(v["old"]), _str(v["new"])) for k, v in s["rule_changes"].items()},
                prune=bool(s["prune"]),
            ))
        unknown = (set(self.others) | set(self.calls) | set(self.why)) - names
        if unknown:
            raise ValueError(f"actions or calls name sets that the plan does not list: {sorted(unknown)}")
        return Plan(tuple(sets))
