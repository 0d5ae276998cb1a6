"""The plan document: ``plan --format json`` prints it, ``plan --out FILE`` saves it, ``apply --plan FILE`` loads it.

Versioned plain JSON (``format_version`` 1, schema ``schemas/plan.schema.json``) carrying, per set, the
declaration digest and ledger generation the plan was made from, so apply can refuse a stale plan. Writing streams
one action or call per line (plans of millions of outputs never become one giant string); saving is atomic (temp
file + rename). Loading checks everything and raises ``StateError`` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from reconciler.errors import StateError
from reconciler.model import ActionKind, Call, Plan, PlannedAction, Reason, RuleOp, SetPlan

FORMAT_VERSION = 1
_SCHEMA_CHECK_LIMIT = 20_000  # past this many items the schema checks a sample; strict parsing checks all


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


def iter_plan_json(plan: Plan, indent: bool = True) -> Iterator[str]:
    """The plan document in pieces, one action or call per line."""
    dumps = json.dumps
    sep = "\n  " if indent else ""
    head = {"format_version": FORMAT_VERSION, "kind": "plan", "summary": summary(plan),
            "sets": [_set_data(s) for s in plan.sets]}
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
    path = Path(path)
    try:
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


def _check_schema(data: Any, where: str) -> None:
    from reconciler.schemas import validate_document  # the jsonschema wrapper; imported when loading only

    sample = data
    if isinstance(data, dict):
        sample = dict(data)
        for field in ("actions", "calls"):
            if isinstance(data.get(field), list) and len(data[field]) > _SCHEMA_CHECK_LIMIT:
                sample[field] = data[field][:_SCHEMA_CHECK_LIMIT]
    problems = validate_document("plan", sample)
    if problems:
        shown = "\n  ".join(f"{p}: {m}" for p, m in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise StateError(f"{where}: not a valid cosrecon plan:\n  {shown}{more}")


def plan_from_data(data: Any, *, where: str = "plan") -> Plan:
    """The ``Plan`` a plan document describes (the inverse of ``plan_to_data``)."""
    if not isinstance(data, dict) or data.get("kind") != "plan":
        raise StateError(f"{where}: not a cosrecon plan (expected a JSON object with \"kind\": \"plan\")")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise StateError(f"{where}: plan format_version {version!r} is not supported (this cosrecon reads "
                         f"{FORMAT_VERSION}); make the plan again with this version")
    _check_schema(data, where)
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"{where}: not a valid cosrecon plan ({type(exc).__name__}: {exc})") from exc


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _parse(data: Mapping[str, Any]) -> Plan:
    actions: dict[str, list[PlannedAction]] = {}
    calls: dict[str, list[Call]] = {}
    for a in data["actions"]:
        actions.setdefault(_str(a["set"]), []).append(PlannedAction(
            ActionKind(a["action"]), _str(a["address"]), _str(a["bucket"]), _str(a["key"]), _str(a["source"]),
            Reason(a["reason"]), _str(a["detail"])))
    # why each call's rule is made: its create or replace action (the call's targets carry it, as the planner's do)
    why: dict[str, dict[tuple[str, str], tuple[ActionKind, Reason, str]]] = {}
    for name, listed in actions.items():
        why[name] = {(a.bucket, a.key): (a.action, a.reason, a.detail) for a in listed
                     if a.action in (ActionKind.CREATE, ActionKind.REPLACE)}
    for c in data["calls"]:
        rules = tuple(RuleOp(_str(r["address"]), _str(r["rule"]), _str(r["fileid"]), _str(r["bucket"]),
                             _str(r["key"]), _str(r["fingerprint"])) for r in c["rules"])
        if not 1 <= len(rules) <= 5:
            raise ValueError(f"a call of {c['key']!r} has {len(rules)} rules (1 to 5 allowed)")
        name = _str(c["set"])
        calls.setdefault(name, []).append(Call(_str(c["bucket"]), _str(c["key"]), _str(c["source_etag"]), rules,
                                               why.get(name, {})))
    sets = []
    names = set()
    for s in data["sets"]:
        name = _str(s["name"])
        names.add(name)
        sets.append(SetPlan(
            name=name,
            declaration_digest=_str(s["declaration_digest"]),
            ledger_generation=_str(s["ledger_generation"]),
            actions=tuple(actions.get(name, ())),
            calls=tuple(calls.get(name, ())),
            unchanged={_str(k): int(v) for k, v in s["unchanged"].items()},
            rule_changes={_str(k): (_str(v["old"]), _str(v["new"])) for k, v in s["rule_changes"].items()},
            prune=bool(s["prune"]),
        ))
    unknown = (set(actions) | set(calls)) - names
    if unknown:
        raise ValueError(f"actions or calls name sets that the plan does not list: {sorted(unknown)}")
    return Plan(tuple(sets))
