"""Random worlds for the differential test: a declaration, the objects listed, the ledger, and how to plan.

``random_world(rng)`` draws one from a ``random.Random`` (hypothesis hands one in; the corpus uses fixed seeds).
Keys hold ``%``, ``+``, spaces, non-ASCII letters and dots; globs use every wildcard; fileid templates use every
variable, absolute and relative, in two buckets; every expected output is given a state (absent, standing
unrecorded, recorded as it stands, changed, gone, under an old rule, of a changed source, of another source,
confirmed by a listing) and the ledger also holds outputs of deleted sources and of outputs no longer declared.
A world and its plan are plain JSON data (``world_data`` / ``plan_data``) for the corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from reconciler.declare.load import build_declaration
from reconciler.errors import CollisionError
from reconciler.model import Declaration, Ledger, LedgerEntry, ObjectInfo, SetPlan
from reconciler.plan.compiled import compile_pipelines, expected_outputs
from reconciler.state.index import EntryFlags, LedgerIndex

B, C = "src-1250000000", "cdn-1250000000"
PIECES = ["a", "b", "ab", "x y", "%2F", "+", "é", "中", ".", "-", "_", "1"]
EXTS = [".jpg", ".png", "", ".tar.gz", ".JPG"]
INCLUDES = ["**/*.jpg", "**", "a/**/*.png", "*/*", "**.jpg", "a**b*", "[ab]*/**", "?/*.jpg", "b/*",
            "**/*.[jp][pn]g", "[!a]*", "a/**/b/*", "*"]
EXCLUDES = ["**/x*", "a/*.png", "**/.*", "*"]
TEMPLATES = ["/t/{key}.webp", "/t/{reldir}/{stem}-s.{ext}", "r/{name}", "{stem}.webp", "/{dir}/{stem}.avif",
             "/all/{rel}", "x/{reldir}/{name}", "/flat/{name}", "{name}", "/o/{dir}//{name}", "{reldir}/{stem}.y"]
RULES = ["imageMogr2/strip", "imageMogr2/thumbnail/10x", "imageMogr2/format/avif"]
STATES = ["absent", "unrecorded", "same", "changed", "gone", "old-rule", "source-changed", "other-source",
          "confirmed"]


@dataclass
class World:
    document: dict[str, Any]
    sources: list[tuple[str, str]]
    existing: dict[str, dict[str, str]]
    entries: list[LedgerEntry]
    confirmed: list[tuple[str, str]]
    prune: bool = False
    replace_unmanaged: bool = False
    rule_changes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def declaration(self) -> Declaration:
        return build_declaration(self.document, "world.yaml")

    def inputs(self) -> tuple[Declaration, list[ObjectInfo], dict[str, dict[str, str]], Ledger, dict[str, Any]]:
        """(declaration, sources, existing, ledger, keyword arguments) for either planner."""
        index = LedgerIndex.of({(e.bucket, e.key): e for e in self.entries})
        flags = EntryFlags(index.size)
        wanted = set(self.confirmed)
        for group in index.groups():
            for j in index.positions(group):
                if (index.bucket_at(group, j), index.key_at(group, j)) in wanted:
                    flags.set(index.entry_id(group, j))
        kwargs = {"prune": self.prune, "replace_unmanaged": self.replace_unmanaged,
                  "rule_changes": self.rule_changes, "confirmed": flags if index.size else None}
        return (self.declaration(), [ObjectInfo(k, e) for k, e in self.sources],
                {b: dict(o) for b, o in self.existing.items()}, Ledger("w", "1", index), kwargs)


def _key(rng: random.Random) -> str:
    segments = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 2))) for _ in range(rng.randint(1, 3))]
    return "/".join(segments) + rng.choice(EXTS)


def _document(rng: random.Random) -> dict[str, Any]:
    pipelines: dict[str, Any] = {}
    for p in range(rng.randint(1, 2)):
        source: dict[str, Any] = {"include": rng.sample(INCLUDES, rng.randint(1, 2))}
        if rng.random() < 0.3:
            source["exclude"] = [rng.choice(EXCLUDES)]
        outputs: dict[str, Any] = {}
        for o in range(rng.randint(1, 7)):
            out: dict[str, Any] = {"rule": rng.choice(RULES), "fileid": rng.choice(TEMPLATES)}
            if rng.random() < 0.3:
                out["bucket"] = C
            if rng.random() < 0.15:
                out["overwrite_source"] = True
            outputs[f"o{o}"] = out
        pipelines[f"p{p}"] = {"source": source, "outputs": outputs}
    document = {"version": 1, "name": "w", "region": "ap-guangzhou", "bucket": B, "pipelines": pipelines}
    if rng.random() < 0.5:  # an old definition the set still answers for
        document["retired"] = [{"address": "gone.out", "fileid": rng.choice(["/old/{rel}", "old/{name}"]),
                                "include": [rng.choice(["**", "a/**"])]}]
    return document


def random_world(rng: random.Random) -> World:
    document = _document(rng)
    decl = build_declaration(document, "world.yaml")
    keys = list(dict.fromkeys(_key(rng) for _ in range(rng.randint(0, 14))))
    listed = [k for k in keys if rng.random() < 0.85]
    sources = [(k, rng.choice(["e-" + k, "e2-" + k])) for k in listed]
    existing: dict[str, dict[str, str]] = {B: dict(sources), C: {}}
    fingerprints = {o.address: o.fingerprint for p in compile_pipelines(decl, {}) for o in p.outputs}
    entries: dict[tuple[str, str], LedgerEntry] = {}
    confirmed: list[tuple[str, str]] = []
    etags = dict(sources)
    expected = [(k, *out) for k, e in sources for out in expected_outputs(decl, [ObjectInfo(k, e)])]
    for source, address, bucket, key in expected:
        state = rng.choice(STATES)
        recorded = LedgerEntry(bucket, key, address, source, etags.get(source, ""), fingerprints[address],
                               "o-" + key, "t")
        if state == "unrecorded":
            existing[bucket].setdefault(key, "u-" + key)
        elif state != "absent":
            changes = {"old-rule": {"fingerprint": "old"}, "source-changed": {"source_etag": "before"},
                       "other-source": {"source_key": rng.choice(keys or ["gone.jpg"])}}.get(state, {})
            entries[(bucket, key)] = _replace(recorded, changes)
            if state == "confirmed":
                confirmed.append((bucket, key))
            elif state != "gone":
                existing[bucket][key] = "changed" if state == "changed" else "o-" + key
    unlisted = [k for k in keys if k not in etags]
    for source, address, bucket, key in [(k, *out) for k in unlisted for out in expected_outputs(decl, [ObjectInfo(k, "")])]:
        if (bucket, key) not in entries and rng.random() < 0.7:  # outputs of a deleted source
            entries[(bucket, key)] = LedgerEntry(bucket, key, address, source, "e", fingerprints[address],
                                                 "o-" + key, "t")
            if rng.random() < 0.7:
                existing[bucket].setdefault(key, "o-" + key)
    for _ in range(rng.randint(0, 4)):  # outputs of outputs no longer declared (some retired), stray keys
        source = rng.choice(keys or ["x.jpg"])
        bucket, key = rng.choice([(B, "old/" + source), (B, "old/" + _key(rng)), (C, "old/" + _key(rng))])
        address = rng.choice([*fingerprints, "gone.out", "gone.out"])
        entries[(bucket, key)] = LedgerEntry(bucket, key, address, source, "e", "fp", "o-" + key, "t")
        roll = rng.random()
        if roll < 0.4:
            existing[bucket][key] = "o-" + key
        elif roll < 0.6:
            existing[bucket][key] = "changed"
        elif roll < 0.8:
            confirmed.append((bucket, key))
    if rng.random() < 0.2 and fingerprints:
        address = rng.choice(list(fingerprints))
        rule_changes = {address: ("imageMogr2/old", "imageMogr2/new")}
    else:
        rule_changes = {}
    return World(document, [(k, etags[k]) for k in listed], existing, list(entries.values()), confirmed,
                 rng.random() < 0.5, rng.random() < 0.3, rule_changes)


def _replace(entry: LedgerEntry, changes: dict[str, str]) -> LedgerEntry:
    fields = {name: getattr(entry, name) for name in LedgerEntry.__slots__}
    return LedgerEntry(**{**fields, **changes})


def world_data(world: World) -> dict[str, Any]:
    return {"document": world.document, "sources": world.sources, "existing": world.existing,
            "entries": [[getattr(e, n) for n in LedgerEntry.__slots__] for e in world.entries],
            "confirmed": world.confirmed, "prune": world.prune, "replace_unmanaged": world.replace_unmanaged,
            "rule_changes": world.rule_changes}


def world_of(data: dict[str, Any]) -> World:
    return World(data["document"], [tuple(s) for s in data["sources"]], data["existing"],  # type: ignore[misc]
                 [LedgerEntry(*e) for e in data["entries"]], [tuple(c) for c in data["confirmed"]],  # type: ignore[misc]
                 data["prune"], data["replace_unmanaged"], {a: tuple(c) for a, c in data["rule_changes"].items()})


def plan_data(plan: SetPlan | CollisionError) -> dict[str, Any]:
    """A plan (or the collision that refused it) as plain data, every field of every value kept."""
    if isinstance(plan, CollisionError):
        return {"error": str(plan)}
    return {"calls": [[c.bucket, c.key, c.source_etag, [[t.address, t.rule, t.bucket, t.fingerprint, t.absolute,
                                                        t.action.value, t.reason.value, t.detail]
                                                       for t in c.targets], list(c.keys)]
                      for c in plan.calls],
            "others": [[a.action.value, a.address, a.bucket, a.key, a.source, a.reason.value, a.detail]
                       for a in plan.other_actions()],
            "actions": len(plan.actions), "unchanged": dict(plan.unchanged), "prune": plan.prune,
            "rule_changes": {a: list(c) for a, c in plan.rule_changes.items()}}
