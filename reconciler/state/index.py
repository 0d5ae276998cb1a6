"""A ledger's entries held compactly (PURE): one tuple per source, ETags as 16-byte digests.

A ledger of 10^6 sources x 3 outputs held as a ``LedgerEntry`` per output took ~1.1 GB; the strings alone (keys,
ETags) are ~640 MB of it. ``LedgerIndex`` keeps what a file holds, grouped as the file is (one group per source
and source ETag):

- a group is one tuple ``(source_key, base, layout, etags, key_0, ..., key_n-1)``: ``base`` numbers its first entry
  (entries are numbered 0..size-1, so callers can keep a byte per entry: see ``observe``'s ``confirmed``);
  ``layout`` is ``(output_0, made_0, output_1, made_1, ...)``, indexes into ``outputs`` ((bucket, address,
  fingerprint)) and ``made`` (timestamps), shared by every group with the same layout; ``etags`` is the source's
  then each output's ETag, as one ``bytes`` of 16-byte digests when all are MD5-like (32 lowercase hex digits, as
  COS shows single uploads), of 20-byte records (digest, part count) when some are a multipart upload's
  (``<md5>-<parts>``), else a tuple of the ETags as they are (``pack_etags``);
- ``by_key``: bucket -> output key -> its group (the planner's and observer's lookup); ``by_source``: source key
  -> a group of it (so a listing can keep the ledger's string for a source key).

It is a read-only ``Mapping`` of (bucket, key) -> ``LedgerEntry`` like any ledger's entries, making each entry when
asked; code that changes entries works on ``dict(index)``. Code outside ``state/`` treats a group as opaque and
reaches the entries through named operations: ``recorded`` (a bucket's output keys -> groups), ``find`` (an
entry's position in its group), ``key_at`` / ``bucket_at`` / ``address_at`` / ``source_of`` / ``same_etag`` /
``etag_at`` / ``fingerprints`` / ``describe``, ``entry_id`` (its number, for an ``EntryFlags``), ``positions``,
``flagged`` / ``unflagged`` (iterate entries by their flag), ``source_key`` (the ledger's string for a source).
"""

from __future__ import annotations

# Over 300 lines: one compact data structure (LedgerIndex) whose parts share its private arrays.

import re
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from typing import Any

from reconciler.errors import StateError
from reconciler.model import LedgerEntry

SOURCE, BASE, LAYOUT, ETAGS, KEYS = 0, 1, 2, 3, 4  # positions in a group
Group = tuple[Any, ...]
_NO_GROUPS: Mapping[str, Group] = {}
_MD5 = re.compile(r"[0-9a-f]{32}").fullmatch
_MULTIPART = re.compile(r"[0-9a-f]{32}(?:-[1-9][0-9]{0,8})?").fullmatch  # a multipart upload's: MD5 of MD5s, parts


def pack_etags(etags: Sequence[str]) -> bytes | tuple[str, ...]:
    """ETags as one ``bytes``: 16-byte digests when all are MD5-like, else 20-byte records (digest + 4-byte part
    count, 0 for none) when all are MD5-like or multipart; else the ETags as they are."""
    if all(_MD5(e) for e in etags):
        return bytes.fromhex("".join(etags))
    if all(_MULTIPART(e) for e in etags):
        return b"".join(bytes.fromhex(e[:32]) + int(e[33:] or 0).to_bytes(4, "big") for e in etags)
    return tuple(etags)


def _text(record: bytes) -> str:
    """One packed ETag as COS shows it."""
    if len(record) == 16:
        return record.hex()
    parts = int.from_bytes(record[16:], "big")
    return record[:16].hex() + (f"-{parts}" if parts else "")


def etag_at(group: Group, j: int) -> str:
    """The ETag of entry ``j`` of ``group`` as COS shows it (``j = -1``: the source's)."""
    etags = group[ETAGS]
    if type(etags) is bytes:
        width = len(etags) // (len(group) - KEYS + 1)
        return _text(etags[width * (j + 1):width * (j + 2)])
    return str(etags[j + 1])


def same_etag(group: Group, j: int, etag: str) -> bool:
    """Whether ``etag`` (as COS shows it) is the one recorded for entry ``j`` of ``group`` (-1: the source's)."""
    etags = group[ETAGS]
    if type(etags) is bytes:
        if len(etags) == 16 * (len(group) - KEYS + 1):
            return len(etag) == 32 and etags[16 * (j + 1):16 * (j + 2)].hex() == etag
        return etag_at(group, j) == etag
    return bool(etags[j + 1] == etag)


class EntryFlags(bytearray):
    """A flag per entry of a ``LedgerIndex``, by entry number (``LedgerIndex.entry_id``): e.g. claimed by an
    expected output, or confirmed by a listing. ``EntryFlags(size)``: none set. An array of entry numbers: besides
    the named methods, ``flags[entry]`` reads and sets a flag (what the planner's loop does, once per output)."""

    __slots__ = ()

    def is_set(self, entry: int) -> bool:
        """Whether ``entry``'s flag is set."""
        return self[entry] != 0

    def set(self, entry: int) -> None:
        self[entry] = 1

    def count_set(self) -> int:
        return len(self) - self.count(0)


class LedgerIndex(Mapping[tuple[str, str], LedgerEntry]):
    """A ledger's entries by (bucket, key), held as groups (see the module's docstring)."""

    __slots__ = ("outputs", "made", "by_key", "by_source", "all", "size", "_layouts", "_outs", "_mades", "where",
                 "_fingerprints")

    def __init__(self, outputs: Sequence[tuple[str, str, str]] = (), made: Sequence[str] = (),
                 where: str = "ledger") -> None:
        self.outputs: list[tuple[str, str, str]] = list(outputs)
        self.made: list[str] = list(made)
        self.by_key: dict[str, dict[str, Group]] = {bucket: {} for bucket, _, _ in self.outputs}
        self.by_source: dict[str, Group] = {}
        self.all: list[Group] = []
        self.size = 0
        self.where = where
        self._layouts: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._outs = {o: i for i, o in enumerate(self.outputs)}
        self._mades = {m: i for i, m in enumerate(self.made)}
        self._fingerprints: dict[int, tuple[str, ...]] = {}  # id of a shared layout -> its entries' fingerprints

    # --- building ------------------------------------------------------------------------------------------

    def add(self, source_key: str, source_etag: str, rows: Iterable[Sequence[Any]]) -> None:
        """One source's entries: rows of (output index, key, output ETag, made index), as a format 2 line has them.
        Raises ``StateError`` for an output key recorded twice (a ledger cosrecon writes never has one)."""
        layout: list[int] = []
        keys: list[str] = []
        etags = [source_etag]
        for out, key, etag, made in rows:
            layout += (out, made)
            keys.append(key)
            etags.append(etag)
        if not keys:
            return
        shared = tuple(layout)
        shared = self._layouts.setdefault(shared, shared)
        packed = pack_etags(etags)
        source_key = self.by_source.get(source_key, (source_key,))[SOURCE]
        group = (source_key, self.size, shared, packed, *keys)
        outputs, by_key = self.outputs, self.by_key
        for j, key in enumerate(keys):
            table = by_key[outputs[layout[2 * j]][0]]
            if key in table:
                raise StateError(f"{self.where}: output {outputs[layout[2 * j]][0]}/{key} is recorded twice")
            table[key] = group
        self.by_source[source_key] = group
        self.all.append(group)
        self.size += len(keys)

    def _output(self, bucket: str, address: str, fingerprint: str) -> int:
        out = (bucket, address, fingerprint)
        index = self._outs.get(out)
        if index is None:
            index = self._outs[out] = len(self.outputs)
            self.outputs.append(out)
            self.by_key.setdefault(bucket, {})
        return index

    def _made(self, made_at: str) -> int:
        index = self._mades.get(made_at)
        if index is None:
            index = self._mades[made_at] = len(self.made)
            self.made.append(made_at)
        return index

    @staticmethod
    def of(entries: Mapping[tuple[str, str], LedgerEntry]) -> LedgerIndex:
        """``entries`` as an index (itself when it is one), grouped by source and source ETag."""
        if isinstance(entries, LedgerIndex):
            return entries
        index = LedgerIndex()
        groups: dict[tuple[str, str], list[LedgerEntry]] = {}
        for entry in entries.values():
            groups.setdefault((entry.source_key, entry.source_etag), []).append(entry)
        for (source_key, source_etag), members in groups.items():
            index.add(source_key, source_etag, [(index._output(e.bucket, e.address, e.fingerprint), e.key,
                                                 e.output_etag, index._made(e.made_at)) for e in members])
        return index

    # --- reading -------------------------------------------------------------------------------------------

    def recorded(self, bucket: str) -> Mapping[str, Group]:
        """The output keys recorded in ``bucket``, each with its group."""
        return self.by_key.get(bucket, _NO_GROUPS)

    def find(self, group: Group, bucket: str, key: str) -> int:
        """The position in ``group`` of the entry (bucket, key), which ``group`` holds (``recorded(bucket)[key]``)."""
        j: int = group.index(key, KEYS) - KEYS
        if self.outputs[group[LAYOUT][2 * j]][0] != bucket:  # the same key recorded in another bucket too
            j = self.locate(group, bucket, key)
        return j

    def locate(self, group: Group, bucket: str, key: str) -> int:
        """The position of (bucket, key) in ``group`` (-1 when it is not there)."""
        layout, outputs = group[LAYOUT], self.outputs
        for j in range(len(group) - KEYS):
            if group[KEYS + j] == key and outputs[layout[2 * j]][0] == bucket:
                return j
        return -1

    @staticmethod
    def positions(group: Group) -> range:
        """The positions of ``group``'s entries."""
        return range(len(group) - KEYS)

    @staticmethod
    def entry_id(group: Group, j: int) -> int:
        """The number of entry ``j`` of ``group`` (0 .. size-1: an index into ``EntryFlags``)."""
        base: int = group[BASE]
        return base + j

    @staticmethod
    def key_at(group: Group, j: int) -> str:
        """The output key of entry ``j`` of ``group`` (the ledger's string: a caller may keep it instead of its own)."""
        key: str = group[KEYS + j]
        return key

    @staticmethod
    def source_of(group: Group) -> str:
        """The source key of ``group``'s entries."""
        source: str = group[SOURCE]
        return source

    def bucket_at(self, group: Group, j: int) -> str:
        """The bucket of entry ``j`` of ``group``."""
        bucket: str = self.outputs[group[LAYOUT][2 * j]][0]
        return bucket

    def address_at(self, group: Group, j: int) -> str:
        """The declared output (pipeline.output) of entry ``j`` of ``group``."""
        address: str = self.outputs[group[LAYOUT][2 * j]][1]
        return address

    def fingerprints(self, group: Group) -> tuple[str, ...]:
        """The rule fingerprint recorded for each entry of ``group``, by position (one tuple per layout)."""
        layout = group[LAYOUT]
        known = self._fingerprints.get(id(layout))  # layouts are shared and kept (``_layouts``): ids stay theirs
        if known is None:
            outputs = self.outputs
            known = self._fingerprints[id(layout)] = tuple(outputs[o][2] for o in layout[::2])
        return known

    def describe(self, group: Group) -> tuple[int, str, tuple[str, ...]]:
        """(the number of ``group``'s first entry, its source key, its entries' fingerprints): the planner asks
        once per group what ``entry_id``, ``source_of`` and ``fingerprints`` would tell."""
        fingerprints = self._fingerprints.get(id(group[LAYOUT]))
        return group[BASE], group[SOURCE], self.fingerprints(group) if fingerprints is None else fingerprints

    def source_key(self, key: str) -> str:
        """``key``, as the ledger's string when it records a source of that key (a caller keeps one copy)."""
        group = self.by_source.get(key)
        if group is None:
            return key
        source: str = group[SOURCE]
        return source

    def flagged(self, flags: EntryFlags) -> Iterator[tuple[Group, int]]:
        """(group, position) of every entry whose flag is set, in the order added."""
        if flags.find(1) < 0:
            return
        for group in self.all:
            base = group[BASE]
            for j in range(len(group) - KEYS):
                if flags[base + j]:
                    yield group, j

    def unflagged(self, flags: EntryFlags) -> Iterator[tuple[Group, int]]:
        """(group, position) of every entry whose flag is not set, in the order added."""
        if flags.find(0) < 0:
            return
        for group in self.all:
            base = group[BASE]
            for j in range(len(group) - KEYS):
                if not flags[base + j]:
                    yield group, j

    same_etag = staticmethod(same_etag)  # (group, j, etag): whether it is the recorded ETag (j = -1: the source's)
    etag_at = staticmethod(etag_at)  # (group, j): the recorded ETag as COS shows it (j = -1: the source's)

    def entry(self, group: Group, j: int) -> LedgerEntry:
        layout = group[LAYOUT]
        bucket, address, fingerprint = self.outputs[layout[2 * j]]
        return LedgerEntry(bucket, group[KEYS + j], address, group[SOURCE], etag_at(group, -1), fingerprint,
                           etag_at(group, j), self.made[layout[2 * j + 1]])

    def groups(self) -> Iterator[Group]:
        """Every group, in the order added."""
        return iter(self.all)

    def __getitem__(self, where: tuple[str, str]) -> LedgerEntry:
        bucket, key = where
        group = self.by_key[bucket][key]
        return self.entry(group, self.locate(group, bucket, key))

    def __contains__(self, where: object) -> bool:
        if not isinstance(where, tuple) or len(where) != 2:
            return False
        table = self.by_key.get(where[0])
        return table is not None and where[1] in table

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for bucket, table in self.by_key.items():
            for key in table:
                yield bucket, key

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"LedgerIndex({dict(self)!r})"

    def values(self) -> ValuesView[LedgerEntry]:
        return _Values(self)

    def items(self) -> ItemsView[tuple[str, str], LedgerEntry]:
        return _Items(self)


class _Values(ValuesView[LedgerEntry]):
    _mapping: LedgerIndex

    def __iter__(self) -> Iterator[LedgerEntry]:
        index = self._mapping
        for group in index.groups():
            for j in range(len(group) - KEYS):
                yield index.entry(group, j)


class _Items(ItemsView[tuple[str, str], LedgerEntry]):
    _mapping: LedgerIndex

    def __iter__(self) -> Iterator[tuple[tuple[str, str], LedgerEntry]]:
        for entry in _Values(self._mapping):
            yield (entry.bucket, entry.key), entry


class ChangedEntries(Mapping[tuple[str, str], LedgerEntry]):
    """A ledger's entries with a run's changes laid over them, without copying the base (an apply of 10^6
    sources would otherwise copy millions of entries to change a few). Not thread-safe: callers lock."""

    __slots__ = ("base", "puts", "deleted", "_size")

    def __init__(self, base: Mapping[tuple[str, str], LedgerEntry]) -> None:
        self.base = base
        self.puts: dict[tuple[str, str], LedgerEntry] = {}
        self.deleted: set[tuple[str, str]] = set()  # keys of the base removed (not put again)
        self._size = len(base)

    def put(self, entry: LedgerEntry) -> None:
        where = (entry.bucket, entry.key)
        if where not in self:
            self._size += 1
        self.puts[where] = entry
        self.deleted.discard(where)

    def delete(self, where: tuple[str, str]) -> None:
        if where not in self:
            return
        self._size -= 1
        self.puts.pop(where, None)
        if where in self.base:
            self.deleted.add(where)

    def hidden(self) -> set[tuple[str, str]]:
        """Keys of the base whose entry is not this mapping's (deleted, or put anew)."""
        return self.deleted | {where for where in self.puts if where in self.base}

    def __getitem__(self, where: tuple[str, str]) -> LedgerEntry:
        entry = self.puts.get(where)
        if entry is not None:
            return entry
        if where in self.deleted:
            raise KeyError(where)
        return self.base[where]

    def __contains__(self, where: object) -> bool:
        return where in self.puts or (where not in self.deleted and where in self.base)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        yield from self.puts
        for where in self.base:
            if where not in self.puts and where not in self.deleted:
                yield where

    def __len__(self) -> int:
        return self._size
