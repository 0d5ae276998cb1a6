"""Listing one (bucket, prefix) as several concurrent listings once it proves large: the key space is split by
common prefixes (a delimiter listing, from storages that offer ``LevelListing``) and the parts are listed at once,
then given back in COS's order, so a consumer cannot tell it from one listing.

The first page (1000 objects) is listed as usual: a listing that ends there costs no extra request. When there is
more, a delimiter listing of the prefix gives the objects directly under it and its common prefixes (its
"folders"); while there are fewer units than ``2 x workers`` and the split is less than ``MAX_DEPTH`` levels deep,
every folder is split again the same way. Units (a single object, or a folder to list) are sorted by key: a
folder's keys all start with its name and an object outside it does not, so that order is COS's order of keys.
What the first page gave is skipped (the folder holding its last key is listed after that key). At most
``workers`` folders are listed at once, and only folders listed ahead of the one being given back are held.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice

from reconciler.model import ObjectInfo
from reconciler.storage import LevelListing, Storage

WORKERS = 8  # folders listed at once, per listing
MAX_DEPTH = 2  # delimiter levels split at most
PAGE = 1000

Unit = ObjectInfo | tuple[str, str]  # an object directly under a level, or (folder, list after this key)


def split(storage: LevelListing, bucket: str, prefix: str, wanted: int) -> list[ObjectInfo | str]:
    """The units covering ``prefix``, in key order: folders split level by level until ``wanted`` or ``MAX_DEPTH``."""
    units: list[ObjectInfo | str] = [prefix]
    for _ in range(MAX_DEPTH):
        if len(units) >= wanted or not any(isinstance(u, str) for u in units):
            break
        expanded: list[ObjectInfo | str] = []
        for unit in units:
            if isinstance(unit, str):
                objects, folders = storage.list_level(bucket, unit)
                expanded += objects
                expanded += folders
            else:
                expanded.append(unit)
        units = sorted(expanded, key=lambda u: u if isinstance(u, str) else u.key)
    return units


def _after(units: list[ObjectInfo | str], last: str) -> list[Unit]:
    """The units still to give after the key ``last``: later objects, later folders, and the folder holding it."""
    rest: list[Unit] = []
    for unit in units:
        if isinstance(unit, ObjectInfo):
            if unit.key > last:
                rest.append(unit)
        elif last.startswith(unit):
            rest.append((unit, last))
        elif unit > last:
            rest.append((unit, ""))
    return rest


def parallel_objects(storage: Storage, bucket: str, prefix: str = "", workers: int = WORKERS) -> Iterator[ObjectInfo]:
    """Every object under ``prefix`` in COS order; past the first page, the folders are listed concurrently."""
    stream = storage.list_objects(bucket, prefix)
    first = list(islice(stream, PAGE))
    yield from first
    if len(first) < PAGE or workers < 2 or not isinstance(storage, LevelListing):
        yield from stream
        return
    units = _after(split(storage, bucket, prefix, 2 * workers), first[-1].key)
    if sum(isinstance(u, tuple) for u in units) < 2:  # one folder (or none): nothing to list side by side
        yield from stream
        return
    close = getattr(stream, "close", None)
    if callable(close):  # the one-stream listing is abandoned after its first page
        close()
    yield from _concurrently(storage, bucket, units, workers)


def _concurrently(storage: Storage, bucket: str, units: list[Unit], workers: int) -> Iterator[ObjectInfo]:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cosrecon-part")

    def part(folder: str, after: str) -> list[ObjectInfo]:
        return list(storage.list_objects(bucket, folder, start_after=after))

    pending: deque[ObjectInfo | Future[list[ObjectInfo]]] = deque()
    todo = iter(units)
    running = 0
    try:
        while True:
            while running < workers:
                unit = next(todo, None)
                if unit is None:
                    break
                if isinstance(unit, tuple):
                    pending.append(pool.submit(part, *unit))
                    running += 1
                else:
                    pending.append(unit)
            if not pending:
                return
            head = pending.popleft()
            if isinstance(head, ObjectInfo):
                yield head
            else:
                running -= 1
                yield from head.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
