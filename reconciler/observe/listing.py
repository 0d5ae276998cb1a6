"""Listing one (bucket, prefix) for a plan, on a worker thread, keeping only what planning needs (no requests
of its own: it pages through ``Storage.list_objects``).

Memory is the point (10^6 sources x 3 outputs): an object that stands as the ledger records it is only marked in
the observation's ``confirmed`` (a byte per ledger entry); other objects are kept as key -> ETag, with the
ledger's string for a key it records; sources are kept as keys, their ETags in the same dict (``model.SourceList``)
and their sizes in an ``array('q')`` parallel to the keys (8 bytes a source).
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
        self.count = 0
        self.complete = False
        self.reused = False
        self.cancelled = threading.Event()

    def _taker(self) -> Callable[[str, str, int], None]:
        """The function that takes one listed object (a closure: it runs once per object listed)."""
        objects, sources, keep, select = self.objects, self.sources, self.keep_sources, self.select
        add_size = self.source_sizes.append
        bucket, index = self.bucket, self.index if self.index is not None else LedgerIndex()
        confirmed = self.confirmed if self.confirmed is not None else EntryFlags()
        recorded = index.recorded(bucket) if self.confirmed is not None else None
        find, key_at, same_etag, entry_id = index.find, index.key_at, index.same_etag, index.entry_id
        confirm, source_key = confirmed.set, index.source_key

        def take(key: str, etag: str, size: int) -> None:
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
            objects[key] = etag

        return take

    def reuse(self, cache: ListingCache | None) -> bool:
        """Take the objects from a finished listing of this set or an earlier one that encloses this prefix."""
        for done in (cache or {}).get(self.bucket, ()):
            if done.complete and self.prefix.startswith(done.prefix):
                take, prefix = self._taker(), self.prefix
                for key, etag, size in done.listed_sized():
                    if key.startswith(prefix):
                        take(key, etag, size)
                        self.count += 1
                self.complete, self.reused = True, True
                return True
        return False

    def listed_sized(self) -> Iterator[tuple[str, str, int]]:
        """``listed()`` with each object's size where this listing kept it (its sources), else -1: an output listing
        keeps no sizes, so a set reusing one for its sources has them unknown (said, not guessed). No lookup table:
        the sources are kept in ``objects``' order, so one walk pairs them with their sizes."""
        sources, sizes, n, i = self.sources, self.source_sizes, len(self.sources), 0
        for key, etag in self.listed():
            if i < n and sources[i] == key:
                yield key, etag, sizes[i]
                i += 1
            else:
                yield key, etag, -1

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
            take(info.key, info.etag, info.size)
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
