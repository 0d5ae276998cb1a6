"""Output ownership, global to a state location: each set's small owner index, ``<state>/_owners/<set>.json``.

The index says which set it is (name, a stable identity, the declaration file), and every output definition
(destination bucket, fileid template, source globs) under which its ledger holds entries. Apply writes it at each
compaction; plan and apply read the other sets' indexes (a listing of ``_owners/`` and a few small objects), and
only where another set's output prefixes overlap this one's do they read that set's ledger for the keys it owns.
So no set deletes, overwrites or adopts another's outputs, and two sets cannot ping-pong one key.

The identity: the git repository holding the declaration file (its ``origin`` remote, normalised), recorded at the
first apply. A set whose ledger was written from another repository is refused, naming both declarations.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from reconciler.declare.authority import OutputDef, authority
from reconciler.declare.globs import Selector
from reconciler.errors import StateError
from reconciler.model import Declaration, Ledger
from reconciler.plan.compiled import template_prefix


def output_prefixes(out: OutputDef) -> tuple[str, ...]:
    """Key prefixes (in ``out.bucket``) under which an output's keys fall."""
    if out.fileid.startswith("/"):
        return (template_prefix(out.fileid),)
    return tuple({p[: p.rfind("/") + 1] for p in Selector(out.include).list_prefixes()})


def output_from_data(data: Any, where: str) -> OutputDef:
    try:
        return OutputDef(str(data["address"]), str(data["bucket"]), str(data["fileid"]),
                         tuple(map(str, data["include"])), tuple(map(str, data.get("exclude", ()))))
    except (KeyError, TypeError, AttributeError) as error:
        raise StateError(f"{where}: not a cosrecon owner index ({error})") from error


@dataclass(frozen=True)
class OwnerIndex:
    """What one set owns at a state location (``_owners/<set>.json``)."""

    name: str  # the set's
    identity: str  # "" when unknown (a declaration outside any git repository with a remote)
    declaration: str  # the declaration file, as given, for messages
    outputs: tuple[OutputDef, ...]

    def describe(self) -> str:
        where = f" of repository {self.identity}" if self.identity else ""
        return f"{self.declaration or '(unknown file)'}{where}"

    def prefixes(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for out in self.outputs:
            found.setdefault(out.bucket, set()).update(output_prefixes(out))
        return found

    def to_data(self) -> dict[str, Any]:
        return {"format_version": 1, "kind": "owners", "set": self.name, "identity": self.identity,
                "declaration": self.declaration, "outputs": [o.to_data() for o in self.outputs]}

    @staticmethod
    def from_data(data: Any, where: str) -> OwnerIndex:
        if not isinstance(data, Mapping) or data.get("kind") != "owners" or not isinstance(data.get("outputs"), list):
            raise StateError(f"{where}: not a cosrecon owner index")
        return OwnerIndex(str(data.get("set", "")), str(data.get("identity", "")), str(data.get("declaration", "")),
                          tuple(output_from_data(o, where) for o in data["outputs"]))


def repository_identity(path: str) -> str:
    """The git repository holding ``path``, as its normalised ``origin`` URL (``host/owner/repo``); "" if none, or
    when ``path`` is not a file here (Pulumi's paths are relative to a project folder this process may not be in)."""
    if not path or not Path(path).is_file():
        return ""
    folder = Path(path).resolve().parent
    for candidate in (folder, *folder.parents):
        config = _git_config(candidate / ".git")
        if config is not None:
            parser = configparser.ConfigParser(strict=False, interpolation=None)
            try:
                parser.read(config, encoding="utf-8")
            except (configparser.Error, OSError, UnicodeDecodeError):
                return ""
            url = parser.get('remote "origin"', "url", fallback="")
            return _normalise_remote(url)
    return ""


def _git_config(dot_git: Path) -> Path | None:
    """The config file of the repository whose ``.git`` this is (a folder, or a worktree's ``gitdir:`` file)."""
    if (dot_git / "config").is_file():
        return dot_git / "config"
    if not dot_git.is_file():
        return None
    try:
        gitdir = Path(dot_git.read_text(encoding="utf-8").split("gitdir:", 1)[1].strip())
        gitdir = gitdir if gitdir.is_absolute() else dot_git.parent / gitdir
        common = gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return common / "config" if (common / "config").is_file() else None


def _normalise_remote(url: str) -> str:
    """``git@github.com:Org/Repo.git`` and ``https://github.com/org/repo`` -> ``github.com/org/repo``."""
    url = url.strip()
    url = re.sub(r"^[a-z+]+://", "", url)
    url = re.sub(r"^[^@/]+@", "", url)
    url = url.replace(":", "/", 1) if ":" in url.split("/", 1)[0] else url
    return re.sub(r"\.git/?$", "", url).rstrip("/").lower()


def index_of(decl: Declaration, previous: OwnerIndex | None) -> OwnerIndex:
    """The index to write after a run: the declaration's outputs and retired definitions, plus every earlier
    definition not declared any more (its entries may still be in the ledger: they stay owned, so other sets keep
    off them, and the stanza to retire them can be shown). Kept without reading the ledger's entries, so a run of
    10^6 sources pays nothing for it. The index is a cache for other sets' protection and for messages: it grants
    this set nothing (``declare.authority``)."""
    outputs = {(o.address, o.bucket, o.fileid): o for o in authority(decl)}
    kept = [o for o in (previous.outputs if previous else ()) if o not in outputs.values()]
    identity = repository_identity(decl.path) or (previous.identity if previous else "")
    return OwnerIndex(decl.name, identity, decl.path, tuple(outputs.values()) + tuple(kept))


class IndexStore(Protocol):
    """Where owner indexes are kept (``state.store.LedgerStore``): plain data by set name."""

    def owner_index_where(self, decl: Declaration, name: str | None = None) -> str: ...

    def read_owner_index(self, decl: Declaration, name: str | None = None) -> Any: ...

    def write_owner_index(self, decl: Declaration, data: Any) -> None: ...

    def owner_index_names(self, decl: Declaration) -> list[str]: ...


def read_index(store: IndexStore, decl: Declaration, name: str | None = None) -> OwnerIndex | None:
    data = store.read_owner_index(decl, name)
    return None if data is None else OwnerIndex.from_data(data, store.owner_index_where(decl, name))


def write_index(store: IndexStore, decl: Declaration, index: OwnerIndex) -> None:
    store.write_owner_index(decl, index.to_data())


def other_indexes(store: IndexStore, decl: Declaration) -> list[OwnerIndex]:
    """Every other set's index at ``decl``'s state location."""
    found = [read_index(store, decl, n) for n in store.owner_index_names(decl) if n != decl.name]
    return [i for i in found if i is not None]


def overlaps(mine: Mapping[str, set[str]], theirs: Mapping[str, set[str]]) -> bool:
    return any(a.startswith(b) or b.startswith(a) for bucket, ps in mine.items() for a in ps
               for b in theirs.get(bucket, ()))


def check_identity(decl: Declaration, recorded: str, where: str) -> None:
    """Refuse a set whose state (``where``: its ledger or owner index) was written from another repository: one
    set name, two declarations."""
    here = repository_identity(decl.path)
    if recorded and here and here != recorded:
        raise StateError(
            f"set {decl.name!r}: two declarations claim this set: {decl.path} of repository {here}, and the one of "
            f"repository {recorded} whose state is {where}; nothing was done. Rename one of the sets (or give it "
            f"its own state prefix)")


class OwnershipStore(IndexStore, Protocol):
    def read(self, decl: Declaration) -> Ledger: ...


@dataclass(frozen=True)
class Ownership:
    """What one set may not take: its own index as last written, and the keys other sets' ledgers own."""

    own: OwnerIndex | None
    owned: Mapping[tuple[str, str], str]  # (bucket, key) -> other set


def gather(store: OwnershipStore, decl: Declaration) -> Ownership:
    """Check the set's identity, then read the other sets' indexes at its state location and, where their output
    prefixes overlap this set's, their ledgers' keys in those buckets."""
    own = read_index(store, decl)
    if own is not None:
        check_identity(decl, own.identity, f"{store.owner_index_where(decl)} "
                                           f"(declared in {own.declaration or 'an unknown file'})")
    mine = OwnerIndex(decl.name, "", decl.path, authority(decl)).prefixes()  # the declaration's, never state's
    owned: dict[tuple[str, str], str] = {}
    for other in other_indexes(store, decl):
        if not overlaps(mine, other.prefixes()):
            continue
        ledger = store.read(replace(decl, name=other.name, pipelines=(), document={}))
        for bucket, key in ledger.entries:
            if bucket in mine:
                owned[(bucket, key)] = other.name
    return Ownership(own, owned)

