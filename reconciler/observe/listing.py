"""Listing one (bucket, prefix) for a plan, on a worker thread, keeping only what planning needs (no requests
of its own: it pages through ``Storage.list_objects``).

Memory is the point (10^6 sources x 3 outputs): an object that stands as the ledger records it is only marked in
the observation's ``confirmed`` (a byte per ledger entry); other objects are kept as key -> ETag, with the
ledger's string for a key it records; sources are kept as keys, their ETags in the same dict (``model.SourceList``)
and their sizes in an ``array('q')`` parallel to the keys (8 bytes a source), their LastModified times too
(``sortable_time``: what ``apply --order`` sorts by).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Iterator

from reconciler.observe.parallel import parallel_objects
from reconciler.state.index import EntryFlags, LedgerIndex
from reconciler.storage import Storage

PAGE = 1000  # objects per list request
Progress = Callable[[int], None]
ListingCache = dict[str, list["Listing"]]  # bucket -> finished listings, shared by the sets of one plan


class Listing:
    """One (bucket, prefix) listing, run on a worker thread; ``cancel`` stops it after the current page.

    Memory (10^6 sources x 3 outputs): an object that stands as the ledger recorded it (``index``) is only marked in
    ``confirmed``, not kept; other objects are kept in ``objects`` (key -> ETag), with the ledger's key string when
    it records the key. ``sources`` keeps the keys of the objects ``select`` accepts (their ETags stay in
    ``objects``, even when confirmed) and their sizes in ``source_sizes`` (parallel to ``sources``; -1: unknown).
    """

    def __init__(self, storage: Storage, bucket: str, prefix: str, keep_sources: bool, counter: Counter,
                 select: Callable[[str], bool] | None = None, index: LedgerIndex | None = None,
                 confirmed: EntryFlags | None = None) -> None:
        self.storage, self.bucket, self.prefix = storage, bucket, prefix
        self.keep_sources = keep_sources
        self.counter = counter
        self.select = select
        self.index, self.confirmed = index, confirmed
        self.objects: dict[str, str] = {}
        self.sources: list[str] = []
        self.source_sizes = array("q")
        self.source_mtimes = array("q")  # parallel to ``sources``: ``sortable_time`` of LastModified, -1 unknown
        self.count = 0
        self.complete = False
        self.reused = False
        self.cancelled = threading.Event()

    def _taker(self) -> Callable[[str, str, int, int], None]:
        """The function that takes one listed object (a closure: it runs once per object listed)."""
        objects, sources, keep, select = self.objects, self.sources, self.keep_sources, self.select
        add_size, add_mtime = self.source_sizes.append, self.source_mtimes.append
        bucket, index = self.bucket, self.index if self.index is not None else LedgerIndex()
        confirmed = self.confirmed if self.confirmed is not None else EntryFlags()
        recorded = index.recorded(bucket) if self.confirmed is not None else None
        find, key_at, same_etag, entry_id = index.find, index.key_at, index.same_etag, index.entry_id
        confirm, source_key = confirmed.set, index.source_key

        def take(key: str, etag: str, size: int, mtime: int = -1) -> None:
            is_source = keep and (select is None or select(key))
            if recorded:
                group = recorded.get(key)
                if group is not None:
                    j = find(group, bucket, key)
                    key = key_at(group, j)  # the ledger's string: the listed one is freed
                    if same_etag(group, j, etag):
                        confirm(entry_id(group, j))
                        if not is_source:
                            return
            if is_source:
                key = source_key(key)
                sources.append(key)
                add_size(size)
                add_mtime(mtime)
            objects[key] = etag

        return take

    def reuse(self, cache: ListingCache | None) -> bool:
        """Take the objects from a finished listing of this set or an earlier one that encloses this prefix."""
        for done in (cache or {}).get(self.bucket, ()):
            if done.complete and self.prefix.startswith(done.prefix):
                take, prefix = self._taker(), self.prefix
                for key, etag, size, mtime in done.listed_sized():
                    if key.startswith(prefix):
                        take(key, etag, size, mtime)
                        self.count += 1
                self.complete, self.reused = True, True
                return True
        return False

    def listed_sized(self) -> Iterator[tuple[str, str, int, int]]:
        """``listed()`` with each object's size and LastModified where this listing kept them (its sources), else
        -1: an output listing keeps neither, so a set reusing one for its sources has them unknown (said, not
        guessed). No lookup table: the sources are kept in ``objects``' order, so one walk pairs them."""
        sources, sizes, mtimes, n, i = self.sources, self.source_sizes, self.source_mtimes, len(self.sources), 0
        for key, etag in self.listed():
            if i < n and sources[i] == key:
                yield key, etag, sizes[i], mtimes[i]
                i += 1
            else:
                yield key, etag, -1, -1

    def listed(self) -> Iterator[tuple[str, str]]:
        """Every object this listing showed: those kept, and those it only marked as confirmed."""
        yield from self.objects.items()
        index, confirmed = self.index, self.confirmed
        if index is None or confirmed is None or not index.recorded(self.bucket):
            return
        bucket, prefix = self.bucket, self.prefix
        for group, j in index.flagged(confirmed):
            key = index.key_at(group, j)
            if key.startswith(prefix) and index.bucket_at(group, j) == bucket and key not in self.objects:
                yield key, index.etag_at(group, j)

    def run(self) -> Listing:
        take = self._taker()
        for info in parallel_objects(self.storage, self.bucket, self.prefix):
            take(info.key, info.etag, info.size, sortable_time(info.last_modified))
            self.count += 1
            if self.count % PAGE == 0:
                self.counter.add(PAGE)
                if self.cancelled.is_set():
                    return self
        self.counter.add(self.count % PAGE)
        self.complete = True
        return self

    @property
    def requests(self) -> int:
        return 0 if self.reused else max(1, -(-self.count // PAGE))


def sortable_time(text: str) -> int:
    """An ISO-8601 UTC time as COS lists it (``2024-05-01T08:30:00.123Z``) as the integer 20240501083000123, which
    sorts as the times do (cheaper than a datetime: it runs once per listed source); -1 when it is not in that form."""
    digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19] + (text[20:23] or "000")
    return int(digits) if len(digits) == 17 and digits.isdigit() else -1


class Counter:
    """Objects listed so far, across threads, reported to the progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.total = 0
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.total += n
            if self.progress is not None:
                self.progress(self.total)
