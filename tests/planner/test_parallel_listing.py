"""``observe.parallel``: a listing split by common prefixes and listed concurrently gives exactly what one listing
gives, in the same order, and costs nothing extra when the listing fits in one page."""

from __future__ import annotations

import random

from reconciler.model import ObjectInfo
from reconciler.observe.parallel import parallel_objects
from reconciler.storage.memory import MemoryStorage

B = "b-1250000000"


class LevelMemory(MemoryStorage):
    """A MemoryStorage that lists one level with the ``/`` delimiter (as COS does), counting those requests."""

    levels = 0

    def list_level(self, bucket: str, prefix: str) -> tuple[list[ObjectInfo], list[str]]:
        self.levels += 1
        objects: list[ObjectInfo] = []
        folders: list[str] = []
        for info in self.list_objects(bucket, prefix):
            rest = info.key[len(prefix):]
            if "/" not in rest:
                objects.append(info)
            elif not folders or folders[-1] != prefix + rest[: rest.index("/") + 1]:
                folders.append(prefix + rest[: rest.index("/") + 1])
        return objects, folders


def world(n: int, seed: int = 3) -> LevelMemory:
    rng = random.Random(seed)
    names = ["a", "a b", "a+b", "a%2F", "中文", "a.b", "a-", "z", "a/b"]
    keys = {f"img/{rng.choice(names)}/{rng.choice(names)}/{i}.jpg" for i in range(n)}
    keys |= {f"img/{rng.choice(names)}.jpg", "img/a", "img/a/", "img", "other/x.jpg"}
    return LevelMemory({B: dict.fromkeys(keys, "e")})


def test_the_parallel_listing_is_the_listing() -> None:
    storage = world(3500)
    for prefix in ("", "img/", "img/a/", "img/a", "nothing/"):
        assert list(parallel_objects(storage, B, prefix, workers=4)) == list(storage.list_objects(B, prefix))
    assert storage.levels > 0


def test_a_listing_of_one_page_costs_no_level_request() -> None:
    storage = world(500)
    assert list(parallel_objects(storage, B, "img/")) == list(storage.list_objects(B, "img/"))
    assert storage.levels == 0
