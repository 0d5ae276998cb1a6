"""Plans regrouped for presentation: per set, per output address, counts per action and the actions to show."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.model import ActionKind, PlannedAction, SetPlan

SHOWN_KINDS = (ActionKind.CREATE, ActionKind.REPLACE, ActionKind.DELETE, ActionKind.CONFLICT, ActionKind.ORPHANED)
SYMBOL = {
    ActionKind.CREATE: "+",
    ActionKind.REPLACE: "~",
    ActionKind.DELETE: "-",
    ActionKind.CONFLICT: "!",
    ActionKind.ORPHANED: "?",
}


@dataclass
class OutputGroup:
    """One output address of one set: how many of each action, and which actions to show (all or samples)."""

    address: str
    counts: dict[ActionKind, int] = field(default_factory=dict)
    shown: dict[ActionKind, list[PlannedAction]] = field(default_factory=dict)

    @property
    def pipeline(self) -> str:
        return self.address.split(".", 1)[0]

    def count(self, kind: ActionKind) -> int:
        return self.counts.get(kind, 0)

    @property
    def changes(self) -> int:
        return sum(self.counts.get(k, 0) for k in SHOWN_KINDS)


def group_set(plan: SetPlan, samples: int | None = None) -> list[OutputGroup]:
    """Groups in declaration order (addresses no longer declared last); ``samples`` caps the actions kept per kind."""
    groups: dict[str, OutputGroup] = {a: OutputGroup(a) for a in plan.unchanged}
    for address, n in plan.unchanged.items():
        groups[address].counts[ActionKind.UNCHANGED] = n
    extra: dict[str, OutputGroup] = {}
    for action in plan.actions:
        group = groups.get(action.address) or extra.get(action.address)
        if group is None:
            group = extra[action.address] = OutputGroup(action.address)
        kind = action.action
        group.counts[kind] = group.counts.get(kind, 0) + 1
        shown = group.shown.setdefault(kind, [])
        if samples is None or len(shown) < samples:
            shown.append(action)
    return list(groups.values()) + [extra[a] for a in sorted(extra)]


def describe(action: PlannedAction, *, detail: bool = True) -> str:
    """``bucket/key (from source; reason: detail)`` (``detail=False``: the reason only)."""
    why = action.reason.value + (f": {action.detail}" if action.detail and detail else "")
    origin = f"from {action.source}; " if action.source else ""
    return f"{action.bucket}/{action.key} ({origin}{why})"
