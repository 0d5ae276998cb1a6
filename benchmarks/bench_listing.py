"""Part 10: listing in parallel (``observe.parallel``) against the bare SDK's one-stream listing of the same keys.

N keys in F folders (``img/<folder>/<i>.jpg``) in the local server's store (seeded without HTTP); each run is a
whole child process against the in-process server: the floor pages through ``client.list_objects`` with markers
(``common.sdk_list``), the subject lists through ``CosStorage`` and ``parallel_objects`` (first page, one
delimiter level, then the folders at once), and ``CosStorage.list_objects`` alone (one stream, its ElementTree
parsing) separates what concurrency gains from what the parsing does. Runs are interleaved; the figure is the ratio of wall times (< 1:
the parallel listing is faster), timed inside each child (start-up and imports left out). On this machine the server shares the 2 cores with the client, so the ratio
understates what concurrent requests gain against COS, where a request's latency, not CPU, is the cost.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import common as c

CHILD = r"""
import sys, time
mode, endpoint, sid, skey, bucket = sys.argv[1:6]
start = time.perf_counter()
if mode == "sdk":
    from benchmarks import common as c
    n, _ = c.sdk_list(c.sdk_client(endpoint, sid, skey), bucket, ["img/"])
else:
    from reconciler.observe.parallel import parallel_objects
    from reconciler.storage.cos import CosStorage
    storage = CosStorage(region="ap-guangzhou", endpoint=endpoint, secret_id=sid, secret_key=skey)
    listing = parallel_objects(storage, bucket, "img/") if mode == "parallel" else storage.list_objects(bucket, "img/")
    n = sum(1 for _ in listing)
print(n, time.perf_counter() - start)
"""


def _child(mode: str, server: Any) -> tuple[int, float]:
    """(keys listed, seconds the listing took inside the child: imports and start-up left out)."""
    run = c.run_process([sys.executable, "-c", CHILD, mode, server.endpoint, server.secret_id, server.secret_key,
                         c.BUCKET], cwd=Path(__file__).resolve().parent.parent)
    count, seconds = run.stdout.split()
    return int(count), float(seconds)


def run(quick: bool = False, *, keys: int | None = None, folders: int | None = None,
        reps: int | None = None) -> dict[str, Any]:
    """The figures; ``keys``, ``folders`` and ``reps`` override the sizes (the smoke test runs it tiny)."""
    n, folders = (keys or (20_000 if quick else 100_000)), (folders or (20 if quick else 50))
    reps = reps or (2 if quick else 3)
    body = c.jpeg_bytes(16, 12)
    with tempfile.TemporaryDirectory(prefix="cosrecon-bench-listing-") as tmp:
        root = Path(tmp) / "root"
        c.seed_objects(root, c.BUCKET, [(f"img/{i % folders:03d}/{i:07d}.jpg", body) for i in range(n)])
        sdk: list[float] = []
        stream: list[float] = []
        parallel: list[float] = []
        with c.local_server(root) as server:
            for _ in range(reps):
                for mode, into in (("sdk", sdk), ("stream", stream), ("parallel", parallel)):
                    count, seconds = _child(mode, server)
                    if count != n:
                        raise c.BenchError(f"{mode} listed {count} of {n} keys")
                    into.append(seconds)
    note = f"{n:,} keys in {folders} folders, whole child processes, interleaved"
    return {"figures": [c.figure("one-stream SDK listing", "s", sdk, note),
                        c.figure("one-stream CosStorage listing", "s", stream, note),
                        c.figure("parallel listing", "s", parallel, note),
                        c.ratio_figure("parallel / one-stream SDK listing", parallel, sdk, note),
                        c.ratio_figure("parallel / one-stream CosStorage listing (concurrency alone)", parallel,
                                       stream, note)],
            "targets": []}
