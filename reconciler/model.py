"""Values shared by every layer: declarations, observed objects, ledger entries, plans.

Pure data only: frozen dataclasses and ``str`` Enums that serialise as themselves. No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

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
class Call:
    """One ``POST /<key>?image_process`` call: a source and at most five rules."""

    bucket: str
    key: str
    source_etag: str
    rules: tuple[RuleOp, ...]


@dataclass(frozen=True)
class SetPlan:
    """The plan of one processing set."""

    name: str
    declaration_digest: str
    ledger_generation: str
    actions: tuple[PlannedAction, ...]
    calls: tuple[Call, ...]
    unchanged: Mapping[str, int]  # address -> count of unchanged outputs
    rule_changes: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # address -> (old, new)
    prune: bool = False

    def count(self, kind: ActionKind) -> int:
        if kind is ActionKind.UNCHANGED:
            return sum(self.unchanged.values())
        return sum(1 for a in self.actions if a.action is kind)


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
        return any(
            a.action in (ActionKind.CREATE, ActionKind.REPLACE, ActionKind.DELETE, ActionKind.CONFLICT)
            for s in self.sets
            for a in s.actions
        )


@dataclass(frozen=True)
class Ledger:
    """What was applied for one set: its outputs by (bucket, key), and the last applied declaration.

    ``generation`` identifies the ledger content a plan was made from (saved plans are refused when it moved).
    """

    name: str
    generation: str = "0"
    entries: Mapping[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    declaration: Mapping[str, Any] | None = None
