"""Values shared by every layer: declarations, observed objects, ledger entries, plans.

Pure data only: frozen dataclasses and ``str`` Enums that serialise as themselves. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

DEFAULT_STATE_PREFIX = ".cosrecon/"
MAX_RULES_PER_CALL = 5  # Pic-Operations accepts at most 5 rules per request.


# --- declarations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSpec:
    """One declared output of a pipeline: a CI rule, a fileid template, a destination bucket."""

    name: str
    rule: str
    fileid: str
    bucket: str | None = None  # None: the set's (source) bucket
    overwrite_source: bool = False


@dataclass(frozen=True)
class SourceSpec:
    """Which objects of the source bucket a pipeline processes (globs; exclude wins)."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    name: str
    source: SourceSpec
    outputs: tuple[OutputSpec, ...]


@dataclass(frozen=True)
class StateLocation:
    """Where a set's ledger lives in COS (``--state-dir`` overrides it with a local folder)."""

    bucket: str
    prefix: str = DEFAULT_STATE_PREFIX


@dataclass(frozen=True)
class RetiredOutput:
    """An old output definition the declaration still answers for (its top-level ``retired:`` list), so that what
    it wrote may be pruned: the address it had, its destination bucket, fileid template and source globs."""

    address: str
    bucket: str
    fileid: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Declaration:
    """One processing set, as loaded and validated from one file."""

    name: str
    region: str
    bucket: str
    pipelines: tuple[Pipeline, ...]
    state: StateLocation
    prune: bool = False
    version: int = 1
    path: str = ""  # the file it came from, for messages
    retired: tuple[RetiredOutput, ...] = ()  # old output definitions whose outputs may still be pruned
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """The declaration as plain data (JSON types), for digests and for diffing against the last applied one."""

    def address(self, pipeline: Pipeline, output: OutputSpec) -> str:
        return f"{pipeline.name}.{output.name}"

    def output_bucket(self, output: OutputSpec) -> str:
        return output.bucket or self.bucket


# --- observations ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """An object as a listing or HEAD shows it. ``etag`` is kept exactly as COS shows it, quotes stripped."""

    key: str
    etag: str
    size: int = 0
    last_modified: str = ""


class SourceList(Sequence[ObjectInfo]):
    """The sources of an observation: their keys, in listing order, with ETags read from the listed objects
    (each ``ObjectInfo`` is made when asked for: 10^6 sources hold no object each)."""

    def __init__(self, keys: list[str], etags: Mapping[str, str]) -> None:
        self.keys, self.etags = keys, etags

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[ObjectInfo]:
        etags = self.etags
        for key in self.keys:
            yield ObjectInfo(key, etags[key])

    def key_etags(self) -> Iterator[tuple[str, str]]:
        """(key, ETag) of each source, in order, without making an ``ObjectInfo`` each (what the planner reads)."""
        return zip(self.keys, map(self.etags.__getitem__, self.keys))

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [ObjectInfo(k, self.etags[k]) for k in self.keys[index]]
        key = self.keys[index]
        return ObjectInfo(key, self.etags[key])


# --- ledger ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One output the tool made (or adopted): what it was made from and what it looked like afterwards."""

    bucket: str
    key: str
    address: str  # pipeline.output
    source_key: str
    source_etag: str
    fingerprint: str  # rule fingerprint: normalised rule + destination bucket + fileid template
    output_etag: str
    made_at: str  # ISO-8601 UTC; informational only, never compared


# --- plans -------------------------------------------------------------------------------------------


class ActionKind(str, Enum):
    CREATE = "create"
    REPLACE = "replace"
    DELETE = "delete"
    CONFLICT = "conflict"
    ORPHANED = "orphaned"
    UNCHANGED = "unchanged"

    def __str__(self) -> str:
        return self.value


class Reason(str, Enum):
    MISSING = "missing"  # create: nothing at the key
    RULE_CHANGED = "rule-changed"  # replace: fingerprint differs from the recorded one
    SOURCE_CHANGED = "source-changed"  # replace: source ETag differs from the recorded one
    OUTPUT_CHANGED = "output-changed"  # replace: output ETag differs from the recorded one (changed outside)
    UNMANAGED = "unmanaged"  # conflict: an object stands at the key but the ledger never recorded it
    REPLACE_UNMANAGED = "replace-unmanaged"  # replace: a conflict the user told us to overwrite
    REPLACE_REQUESTED = "replace-requested"  # replace: unchanged, but the user asked to remake it (--replace)
    NOT_DECLARED = "not-declared"  # orphaned/delete: recorded, no longer declared
    SOURCE_DELETED = "source-deleted"  # orphaned/delete: its source is gone
    OUTPUT_GONE = "output-gone"  # orphaned, nothing to delete: recorded, but the object is gone too

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """A change (or conflict/orphan) for one output object. Unchanged outputs are only counted, never listed."""

    action: ActionKind
    address: str
    bucket: str
    key: str
    source: str  # source key ("" when unknown)
    reason: Reason
    detail: str = ""  # e.g. "imageMogr2/thumbnail/200x -> imageMogr2/thumbnail/300x"


@dataclass(frozen=True, slots=True)
class RuleOp:
    """One rule of a Pic-Operations header, and what it is expected to produce."""

    address: str
    rule: str
    fileid: str  # as sent: rendered template, COS semantics (leading "/" absolute, else relative)
    bucket: str  # destination bucket
    key: str  # the resolved output key
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Target:
    """What a rule makes, apart from its key: shared by every rule making one declared output for one reason.

    A plan of 10^6 sources x 3 outputs holds 3 x 10^6 rules; a call keeps each as a target and an output key only,
    and its ``RuleOp``s and create/replace ``PlannedAction``s are made from them when asked for.
    """

    address: str
    rule: str
    bucket: str
    fingerprint: str
    absolute: bool  # the fileid as sent is absolute (``fileid_for``)
    action: ActionKind = ActionKind.CREATE
    reason: Reason = Reason.MISSING
    detail: str = ""

    @staticmethod
    def of_rule(source_key: str, rule: RuleOp, action: ActionKind = ActionKind.CREATE,
                reason: Reason = Reason.MISSING, detail: str = "") -> Target:
        """The target of ``rule`` of a call on ``source_key``; ValueError when its fileid does not resolve to its
        key (``fileid_is_absolute``)."""
        absolute = fileid_is_absolute(source_key, rule.address, rule.fileid, rule.key)
        return Target(rule.address, rule.rule, rule.bucket, rule.fingerprint, absolute, action, reason, detail)


# --- fileids: COS's semantics, defined once (templates render them; the planner, the plan loader, calls and the
# local server resolve them with these two functions) -------------------------------------------------------


def resolve_fileid(source_key: str, fileid: str) -> str:
    """The output key COS writes for ``fileid`` processed from ``source_key``: a leading "/" names a key from the
    bucket root (rule 1), the source's own key overwrites the source (rule 4), anything else is relative to the
    source's directory (rule 2).
    https://cloud.tencent.com/document/product/460/18147 (Pic-Operations: fileid)"""
    if fileid[:1] == "/":
        return fileid.lstrip("/")
    if fileid == source_key:  # rule 4 (zh 1045/73025): "to overwrite the original image, set fileid to <ObjectKey>"
        return source_key
    return source_key[: source_key.rfind("/") + 1] + fileid


def fileid_for(source_key: str, key: str, absolute: bool) -> str:
    """The fileid (absolute, or relative to ``source_key``'s directory) that ``resolve_fileid`` resolves to ``key``
    (a relative one only for a key under that directory)."""
    return "/" + key if absolute else key[source_key.rfind("/") + 1:]


def fileid_is_absolute(source_key: str, address: str, fileid: str, key: str) -> bool:
    """Whether ``fileid`` (as sent) is absolute; ValueError when it is not a fileid of the output ``key``
    (``resolve_fileid`` gives ``key``, and it is what ``fileid_for`` gives back or, rule 4, the source key itself)."""
    absolute = fileid[:1] == "/"
    if resolve_fileid(source_key, fileid) != key or fileid not in (fileid_for(source_key, key, absolute), source_key):
        raise ValueError(f"rule {address} of {source_key!r}: fileid {fileid!r} does not resolve to {key!r}")
    return absolute


class Call(NamedTuple):
    """One ``POST /<key>?image_process`` call: a source and at most five rules, each a ``Target`` and the output key
    it makes (``targets[i]`` makes ``keys[i]``); ``rules`` makes the ``RuleOp``s. ``Call.of_rules`` builds one from
    ``RuleOp``s, checking their fileids.

    An immutable value with named fields, as a ``NamedTuple`` rather than a frozen dataclass: a first plan of 10^6
    sources makes 10^6 calls, and a frozen dataclass takes ~2.5x as long to make (its ``__init__`` sets each field
    through ``object.__setattr__``), ~6% of the planner's time.
    """

    bucket: str
    key: str
    source_etag: str
    targets: tuple[Target, ...]
    keys: tuple[str, ...]

    @classmethod
    def of_rules(cls, bucket: str, key: str, source_etag: str, rules: Iterable[RuleOp] = (),
                 why: Mapping[tuple[str, str], tuple[ActionKind, Reason, str]] | None = None) -> Call:
        """A call of ``rules`` (their fileids must resolve to their keys); ``why``: (bucket, key) -> (action,
        reason, detail) of a rule that is not a create of a missing output."""
        rules = tuple(rules)
        targets = tuple(Target.of_rule(key, r, *(why or {}).get((r.bucket, r.key), ())) for r in rules)
        return cls(bucket, key, source_etag, targets, tuple(r.key for r in rules))

    def pairs(self) -> Iterator[tuple[Target, str]]:
        """(target, output key) of each rule."""
        return zip(self.targets, self.keys)

    @property
    def size(self) -> int:
        """The number of rules."""
        return len(self.keys)

    @property
    def rules(self) -> tuple[RuleOp, ...]:
        source = self.key
        return tuple(RuleOp(t.address, t.rule, fileid_for(source, k, t.absolute), t.bucket, k, t.fingerprint)
                     for t, k in self.pairs())

    def changes(self) -> Iterator[PlannedAction]:
        """The create/replace action of each rule."""
        for t, k in self.pairs():
            yield PlannedAction(t.action, t.address, t.bucket, k, self.key, t.reason, t.detail)


class PlanActions(Sequence[PlannedAction]):
    """A set's actions: the create/replace of each rule of its calls (made when iterated, never all held), then the
    conflicts, orphans and deletes held as they are. Counts per kind are worked out once."""

    __slots__ = ("calls", "others", "_tally")

    def __init__(self, calls: Sequence[Call], others: Sequence[PlannedAction] = ()) -> None:
        self.calls, self.others = calls, tuple(others)
        self._tally: dict[ActionKind, int] | None = None

    def __iter__(self) -> Iterator[PlannedAction]:
        for call in self.calls:
            yield from call.changes()
        yield from self.others

    def __len__(self) -> int:
        return sum(len(c.keys) for c in self.calls) + len(self.others)

    def __getitem__(self, index: Any) -> Any:
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"PlanActions({tuple(self)!r})"

    def tally(self) -> dict[ActionKind, int]:
        if self._tally is None:
            counts: dict[ActionKind, int] = {}
            for call in self.calls:
                for target in call.targets:
                    counts[target.action] = counts.get(target.action, 0) + 1
            for a in self.others:
                counts[a.action] = counts.get(a.action, 0) + 1
            self._tally = counts
        return self._tally


def tally(actions: Iterable[PlannedAction]) -> dict[ActionKind, int]:
    """Actions per kind (worked out once for ``PlanActions``)."""
    if isinstance(actions, PlanActions):
        return actions.tally()
    counts: dict[ActionKind, int] = {}
    for a in actions:
        counts[a.action] = counts.get(a.action, 0) + 1
    return counts


@dataclass(frozen=True)
class SetPlan:
    """The plan of one processing set."""

    name: str
    declaration_digest: str
    ledger_generation: str
    actions: Sequence[PlannedAction]  # a tuple, or the planner's ``PlanActions`` (made from the calls)
    calls: Sequence[Call]
    unchanged: Mapping[str, int]  # address -> count of unchanged outputs
    rule_changes: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # address -> (old, new)
    prune: bool = False
    # bytes of each call's source as the listing showed it, parallel to ``calls`` (-1: not shown); None when the
    # plan does not know them (a saved plan): the estimate then says sizes are unknown
    source_sizes: Sequence[int] | None = None

    def sized_calls(self) -> Iterator[tuple[Call, int | None]]:
        """Each call with its source's size (None when unknown)."""
        sizes = self.source_sizes
        if sizes is None or len(sizes) != len(self.calls):
            for call in self.calls:
                yield call, None
            return
        for call, size in zip(self.calls, sizes):
            yield call, size if size >= 0 else None

    def count(self, kind: ActionKind) -> int:
        if kind is ActionKind.UNCHANGED:
            return sum(self.unchanged.values())
        return tally(self.actions).get(kind, 0)

    def other_actions(self) -> tuple[PlannedAction, ...]:
        """The actions that are not a call's create or replace (deletes, conflicts, orphans), without making the
        calls' actions when ``actions`` is a ``PlanActions``."""
        actions = self.actions
        if isinstance(actions, PlanActions):
            return actions.others
        return tuple(a for a in actions if a.action not in (ActionKind.CREATE, ActionKind.REPLACE))


@dataclass(frozen=True)
class Plan:
    """A whole plan: one SetPlan per declaration, in the order given."""

    sets: tuple[SetPlan, ...]

    def count(self, kind: ActionKind) -> int:
        return sum(s.count(kind) for s in self.sets)

    @property
    def calls(self) -> int:
        return sum(len(s.calls) for s in self.sets)

    @property
    def has_changes(self) -> bool:
        return any(s.count(kind) for s in self.sets
                   for kind in (ActionKind.CREATE, ActionKind.REPLACE, ActionKind.DELETE, ActionKind.CONFLICT))


@dataclass(frozen=True)
class Ledger:
    """What was applied for one set: its outputs by (bucket, key), and the last applied declaration.

    ``generation`` identifies the ledger content a plan was made from (saved plans are refused when it moved).
    """

    name: str
    generation: str = "0"
    entries: Mapping[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    declaration: Mapping[str, Any] | None = None
    identity: str = ""  # the repository the set is applied from (``plan.ownership``), recorded at the first apply
