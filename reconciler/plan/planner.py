"""The planner (PURE): one declaration + the objects listed + the ledger -> the set's plan.

Values in, a value out: no I/O, no clock, nothing fetched lazily. For every expected output (selected source x
declared output) it decides create / replace (with its reason) / unchanged / conflict; recorded outputs that are
no longer expected become orphaned (``orphans``; delete when pruning); each source's outputs to make are packed
into image_process calls of at most five rules. Unchanged outputs are counted per address, never listed.

The steps, per source (``_walk_sources``): resolve each output key (``templates``; ``_unusable`` notes a key that
cannot be used), classify it (``_classify_new`` when the ledger does not record it, ``_classify_recorded`` when it
does), pack the source's calls (``_packer``). Each step is made once per plan as a closure over what it needs.

Speed and memory matter (10^6 sources x 3 outputs): what depends only on an output is compiled once
(``compiled``), the template variables are made once per source and include base, the ledger is looked up through
the ``LedgerIndex``'s named operations (bound to local names by the steps), and an output to make is held as a
target and a key of its call. The cyclic GC is left alone (the CLI pauses it around planning: ``cli.gcpause``).
"""

from __future__ import annotations

# Over 300 lines: the pure planner kept whole, read as the specification of a plan (issue 23 tests against it).

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.declare.templates import key_problem, render_fileid, source_variables
from reconciler.errors import CollisionError
from reconciler.model import (
    MAX_RULES_PER_CALL,
    ActionKind,
    Call,
    Declaration,
    Ledger,
    ObjectInfo,
    PlanActions,
    PlannedAction,
    Reason,
    SetPlan,
    SourceList,
    Target,
    resolve_fileid,
)
from reconciler.plan.compiled import CompiledOutput, CompiledPipeline, compile_pipelines, expected_outputs, never_under
from reconciler.plan.orphans import orphans
from reconciler.state.index import EntryFlags, Group, LedgerIndex

__all__ = ["build_set_plan", "expected_outputs", "never_under"]

_MAX_LISTED_PROBLEMS = 20
_EMPTY: Mapping[str, str] = {}


def build_set_plan(
    decl: Declaration,
    sources: Iterable[ObjectInfo],
    existing: Mapping[str, Mapping[str, str]],
    ledger: Ledger,
    *,
    prune: bool = False,
    replace_unmanaged: bool = False,
    declaration_digest: str = "",
    ledger_generation: str | None = None,
    rule_changes: Mapping[str, tuple[str, str]] | None = None,
    confirmed: EntryFlags | None = None,
    styles: Mapping[str, str] | None = None,
) -> SetPlan:
    """Plan one set.

    ``sources``: objects listed in the source bucket (keys that do not match any pipeline are ignored);
    ``existing``: bucket -> {key: etag} of every object observed where outputs (and recorded outputs) may be;
    ``confirmed``: a flag per entry of ``ledger.entries`` (a ``LedgerIndex``), set for a recorded output that was
    observed with its recorded ETag and so is not in ``existing`` (``observe`` keeps those out of it);
    ``rule_changes``: address -> (old rule, new rule) from ``diffing``, shown on rule-changed replacements;
    ``styles``: the source bucket's image styles, fingerprinted with the ``style/<name>`` rules that use them.
    Raises ``CollisionError`` when real keys collide or render to unusable keys.
    """
    changes = dict(rule_changes or {})
    pipes = compile_pipelines(decl, changes, styles or {})
    index = LedgerIndex.of(ledger.entries) if ledger.entries else LedgerIndex()
    if confirmed is None or not index.size:
        confirmed = EntryFlags(index.size)
    elif len(confirmed) != index.size:
        raise ValueError(f"confirmed holds {len(confirmed)} entries, the ledger {index.size}")
    walk = _Walk(decl.bucket, index, EntryFlags(index.size), confirmed, replace_unmanaged,
                 unchanged=[0] * sum(len(p.outputs) for p in pipes))
    _walk_sources(walk, pipes, sources, existing)
    _raise_problems(decl, walk)
    prune = prune or decl.prune
    others = walk.conflicts
    if walk.claims.count_set() != index.size:
        others += orphans(decl, pipes, index, walk.claims, confirmed, existing, set(walk.selected), prune)
    calls = tuple(walk.calls)
    return SetPlan(
        name=decl.name,
        declaration_digest=declaration_digest,
        ledger_generation=ledger.generation if ledger_generation is None else ledger_generation,
        actions=PlanActions(calls, others),
        calls=calls,
        unchanged={o.address: walk.unchanged[o.index] for p in pipes for o in p.outputs},
        rule_changes=changes,
        prune=prune,
    )


@dataclass
class _Walk:
    """What the walk over the sources keeps: the ledger's entries and their flags, and what it found so far."""

    source_bucket: str
    index: LedgerIndex
    claims: EntryFlags  # a recorded output claimed by an expected output (no dict entry: converged, that is all)
    confirmed: EntryFlags
    replace_unmanaged: bool
    unchanged: list[int]  # per output index
    owners: dict[str, dict[str, str]] = field(default_factory=dict)  # bucket -> unrecorded output key -> source
    calls: list[Call] = field(default_factory=list)
    conflicts: list[PlannedAction] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# (compiled output, its bucket's owners, its bucket's observed objects, its bucket's recorded keys)
_OutputPlan = tuple[CompiledOutput, dict[str, str], Mapping[str, str], Mapping[str, Group]]


def _walk_sources(walk: _Walk, pipes: tuple[CompiledPipeline, ...], sources: Iterable[ObjectInfo],
                  existing: Mapping[str, Mapping[str, str]]) -> None:
    """Every selected source: resolve each of its output keys, classify it, pack the source's calls."""
    for pipe in pipes:
        for out in pipe.outputs:
            walk.owners.setdefault(out.bucket, {})
    plans = [(p.selector.matches, p.base_for if p.bases and p.needs_base else None, p.base,
              tuple((o, walk.owners[o.bucket], existing.get(o.bucket, _EMPTY), walk.index.recorded(o.bucket))
                    for o in p.outputs)) for p in pipes]
    classify_new, classify_recorded = _classify_new(walk), _classify_recorded(walk)
    unusable, pack, selected = _unusable(walk.problems), _packer(walk), walk.selected
    find, key_at = walk.index.find, walk.index.key_at
    pairs = sources.key_etags() if isinstance(sources, SourceList) else ((s.key, s.etag) for s in sources)
    for key, etag in pairs:
        targets: list[Target] | None = None  # made for a source with something to make (converged: none)
        keys: list[str] = []
        last_base: str | None = None
        variables: dict[str, str] = {}
        for matches, base_for, base, outs in plans:
            if not matches(key):
                continue
            if last_base is None:
                selected.append(key)
            if base_for is not None:  # include patterns with different bases
                base = base_for(key)
            if base != last_base:
                variables, last_base = source_variables(key, base), base
            for out, owners, current_objects, recorded in outs:
                okey = resolve_fileid(key, render_fileid(out.template, variables))  # templates.output_key
                if (not okey or okey[-1] == "/" or okey[0] == "." or "/." in okey or "//" in okey) \
                        and unusable(out, okey, key):
                    continue
                group = recorded.get(okey)
                if group is None:
                    target = classify_new(out, owners, current_objects.get(okey), okey, key)
                else:
                    target = classify_recorded(out, owners, current_objects.get(okey), group, okey, key, etag)
                    if target is not None:
                        okey = key_at(group, find(group, out.bucket, okey))  # the ledger's equal string
                if target is None:
                    continue
                if targets is None:
                    targets, keys = [target], [okey]
                else:
                    targets.append(target)
                    keys.append(okey)
        if targets is not None:
            pack(key, etag, targets, keys)


def _unusable(problems: list[str]) -> Callable[[CompiledOutput, str, str], bool]:
    """Step 1, resolving an output key (``templates.output_key``, called in two parts: one frame less per output):
    whether a key is unusable (then a problem is noted)."""

    def unusable(out: CompiledOutput, okey: str, key: str) -> bool:
        problem = key_problem(okey)
        if problem:
            problems.append(f"{out.address}: source {key!r} {problem}")
        return problem is not None

    return unusable


def _classify_new(walk: _Walk) -> Callable[[CompiledOutput, dict[str, str], str | None, str, str], Target | None]:
    """Step 2a: what to do about an output key the ledger does not record (``current``: the ETag observed there)."""
    problems, conflicts, src_bucket, replace_unmanaged = walk.problems, walk.conflicts, walk.source_bucket, \
        walk.replace_unmanaged

    def classify(out: CompiledOutput, owners: dict[str, str], current: str | None, okey: str,
                 key: str) -> Target | None:
        bucket = out.bucket
        owner = owners.get(okey)
        if owner is not None:
            problems.append(f"{bucket}/{okey}: output of both {owner!r} and {key!r} ({out.address})")
            return None
        own_source = okey == key and bucket == src_bucket
        if own_source and not out.overwrite_source:
            problems.append(f"{bucket}/{okey}: {out.address} would overwrite its own source")
            return None
        owners[okey] = key
        if current is None:
            return out.create
        if own_source:  # overwrite_source: the source is no conflict
            return out.create_over_source
        if replace_unmanaged:
            return out.replace_unmanaged
        conflicts.append(PlannedAction(ActionKind.CONFLICT, out.address, bucket, okey, key, Reason.UNMANAGED))
        return None

    return classify


_Recorded = Callable[[CompiledOutput, dict[str, str], str | None, Group, str, str, str], Target | None]


def _classify_recorded(walk: _Walk) -> _Recorded:
    """Step 2b: what to do about an output key the ledger records in ``group`` (``current``: the ETag observed
    there, None when not observed or confirmed). Claims the entry. A source's outputs share one group: what
    depends on the group alone is worked out once for them."""
    index, claims, confirmed, unchanged, problems = walk.index, walk.claims, walk.confirmed, walk.unchanged, \
        walk.problems
    find, describe, same_etag = index.find, index.describe, index.same_etag
    src_bucket = walk.source_bucket
    seen: Group = ()
    first, source, same_source, own = 0, "", False, False  # of the group seen last: first entry, source, ...
    recorded_fingerprints: tuple[str, ...] = ()

    def classify(out: CompiledOutput, owners: dict[str, str], current: str | None, group: Group, okey: str,
                 key: str, etag: str) -> Target | None:
        nonlocal seen, first, source, same_source, own, recorded_fingerprints
        if group is not seen:
            seen, same_source = group, same_etag(group, -1, etag)
            first, source, recorded_fingerprints = describe(group)
            own = source == key
        bucket = out.bucket
        j = find(group, bucket, okey)
        owner = owners.get(okey)
        entry = first + j  # flags are read and set by subscript here: a method call per output costs ~5%
        if owner is None and claims[entry]:
            owner = source
        if owner is not None:
            problems.append(f"{bucket}/{okey}: output of both {owner!r} and {key!r} ({out.address})")
            return None
        if okey == key and bucket == src_bucket and not out.overwrite_source:
            problems.append(f"{bucket}/{okey}: {out.address} would overwrite its own source")
            return None
        claims[entry] = 1
        if not own:  # recorded as another source's output: this source's now
            owners[okey] = key
        if current is None and not confirmed[entry]:
            return out.create_gone
        if recorded_fingerprints[j] != out.fingerprint:
            return out.rule_changed
        if not same_source and okey != key:
            return out.source_changed
        if current is not None and not same_etag(group, j, current):
            return out.output_changed
        unchanged[out.index] += 1
        return None

    return classify


def _packer(walk: _Walk) -> Callable[[str, str, list[Target], list[str]], None]:
    """Step 3: a source's outputs to make as calls of at most ``MAX_RULES_PER_CALL`` rules (a run of sources with
    the same targets shares one tuple of them)."""
    calls, bucket = walk.calls, walk.source_bucket
    last: list[tuple[Target, ...]] = [()]

    def pack(key: str, etag: str, targets: list[Target], keys: list[str]) -> None:
        shared = tuple(targets)
        if shared == last[0]:  # identical targets compare by identity first: cheap
            shared = last[0]
        else:
            last[0] = shared
        if len(keys) <= MAX_RULES_PER_CALL:
            calls.append(Call(bucket, key, etag, shared, tuple(keys)))
            return
        for i in range(0, len(keys), MAX_RULES_PER_CALL):
            end = i + MAX_RULES_PER_CALL
            calls.append(Call(bucket, key, etag, shared[i:end], tuple(keys[i:end])))

    return pack


def _raise_problems(decl: Declaration, walk: _Walk) -> None:
    """``CollisionError`` listing the walk's problems and the sources that are another source's output."""
    problems = walk.problems
    owners = walk.owners.get(decl.bucket)
    if owners is not None:
        problems += _sources_claimed(decl.bucket, walk.selected, owners, walk.index, walk.claims)
    if not problems:
        return
    shown = problems[:_MAX_LISTED_PROBLEMS]
    more = len(problems) - len(shown)
    raise CollisionError(f"set {decl.name!r}: output keys collide or are unusable; no plan is shown:",
                         shown + ([f"... and {more} more"] if more else []))


def _sources_claimed(bucket: str, selected: list[str], owners: Mapping[str, str], index: LedgerIndex,
                     claims: EntryFlags) -> list[str]:
    """Problems for sources that are another source's output (``bucket`` is the sources' bucket)."""
    problems = []
    recorded = index.recorded(bucket)
    for key in selected:
        owner = owners.get(key)
        if owner is None and recorded:
            group = recorded.get(key)
            if group is not None:
                j = index.find(group, bucket, key)
                if claims.is_set(index.entry_id(group, j)) and index.source_of(group) != key:
                    owner = index.source_of(group)
        if owner is not None and owner != key:
            problems.append(f"{bucket}/{key}: output of {owner!r} is itself a source")
    return problems
