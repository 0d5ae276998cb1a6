"""Throughput of the embedded local server (``cosrecon local``) on this machine, through the real SDK over HTTP.

Figures (median of several runs, with min/max): 1000-key list pages per second on a store seeded with
100,000 keys; small (1 KiB) PUTs per second from 1 and from 16 client threads; image_process calls per second on
640x480 JPEGs with 3 rules each, from 1 and from 4 threads; and bulk seeding (``LocalStore.put_many``) keys per
second. ``python benchmarks/bench_local.py [--quick] [--json PATH]`` prints a table and writes JSON;
``run() -> dict`` returns the same figures for ``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUCKET = "bench-1250000000"
REGION = "ap-guangzhou"
RULES = [
    {"fileid": "/out/{i}/thumb.jpg", "rule": "imageMogr2/thumbnail/320x"},
    {"fileid": "/out/{i}/small.webp", "rule": "imageView2/1/w/100/h/100/format/webp"},
    {"fileid": "/out/{i}/gray.png", "rule": "imageMogr2/thumbnail/!50p/grayscale/1/format/png"},
]


def _client(server: Any, pool: int) -> Any:
    import requests
    from qcloud_cos import CosConfig, CosS3Client

    conf = CosConfig(Region=REGION, SecretId=server.secret_id, SecretKey=server.secret_key, Scheme="http",
                     IP="127.0.0.1", Port=server.port)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool))
    return CosS3Client(conf, retry=0, session=session)


def _raw_list(client: Any, server: Any, pages: int) -> None:
    """Page through the bucket with signed requests, parsing only NextMarker (what the server costs)."""
    import re

    import requests

    host = f"{BUCKET}.cos.{REGION}.myqcloud.com"
    session = requests.Session()
    marker = ""
    for _ in range(pages):
        params = {"prefix": "photos/", "marker": marker, "max-keys": "1000", "encoding-type": "url"}
        auth = client.get_auth(Method="GET", Bucket=BUCKET, Key="/", Params=params, Headers={"Host": host})
        reply = session.get(f"{server.endpoint}/", params=params, headers={"Host": host, "Authorization": auth})
        reply.raise_for_status()
        found = re.search(rb"<NextMarker>([^<]*)</NextMarker>", reply.content)
        marker = requests.utils.unquote(found.group(1).decode()) if found else ""


def _figure(name: str, unit: str, values: Sequence[float], note: str = "") -> dict[str, Any]:
    return {"name": name, "unit": unit, "values": [round(v, 2) for v in values],
            "median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "runs": len(values), "note": note}


def _rate(count: int, work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return count / (time.perf_counter() - start)


def _jpeg() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (640, 480), (180, 90, 40))
    for x in range(0, 640, 20):
        image.paste((30, 160, 200), (x, 100, x + 10, 380))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def run(quick: bool = False, keys: int | None = None) -> dict[str, Any]:
    from reconciler.local import LocalServer, LocalStore

    keys = keys or (20_000 if quick else 100_000)
    reps = 3 if quick else 5
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        root = Path(tmp)
        store = LocalStore(root)
        seed_rate = _rate(keys, lambda: store.put_many(BUCKET, ((f"photos/{i:07d}.jpg", b"x" * 64)
                                                                 for i in range(keys))))
        store.close()
        figures.append(_figure(f"seed {keys:,} keys (LocalStore.put_many)", "keys/s", [seed_rate], "one run"))
        with LocalServer(root, ci_qps=0) as server:
            client = _client(server, 16)

            def list_all(pages: int) -> None:
                marker = ""
                for _ in range(pages):
                    page = client.list_objects(Bucket=BUCKET, Prefix="photos/", Marker=marker, MaxKeys=1000)
                    assert len(page["Contents"]) == 1000
                    marker = page.get("NextMarker", "")

            pages = 20 if quick else 50
            figures.append(_figure(f"list: 1000-key pages via SDK ({keys:,} keys stored)", "pages/s",
                                   [_rate(pages, lambda: list_all(pages)) for _ in range(reps)],
                                   "includes the SDK's own XML parsing"))
            figures.append(_figure(f"list: 1000-key pages, raw signed HTTP ({keys:,} keys stored)", "pages/s",
                                   [_rate(pages, lambda: _raw_list(client, server, pages)) for _ in range(reps)],
                                   "server side: no SDK response parsing"))

            body = b"k" * 1024
            n_put = 200 if quick else 500

            def puts(threads: int, run_id: int) -> None:
                def one(i: int) -> None:
                    client.put_object(Bucket=BUCKET, Key=f"small/{run_id}/{threads}/{i}", Body=body)
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(one, range(n_put)))

            for threads in (1, 16):
                figures.append(_figure(f"small PUTs (1 KiB), {threads} client thread(s)", "PUTs/s",
                                       [_rate(n_put, lambda r=r, t=threads: puts(t, r)) for r in range(reps)]))

            source = _jpeg()
            client.put_object(Bucket=BUCKET, Key="src/photo.jpg", Body=source)
            n_proc = 12 if quick else 30

            def processes(threads: int) -> None:
                def one(i: int) -> None:
                    rules = [{"fileid": r["fileid"].format(i=i), "rule": r["rule"]} for r in RULES]
                    client.ci_image_process(Bucket=BUCKET, Key="src/photo.jpg",
                                            PicOperations=json.dumps({"rules": rules}))
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(one, range(n_proc)))

            for threads in (1, 4):
                figures.append(_figure(f"image_process, 640x480 JPEG, 3 rules, {threads} thread(s)", "calls/s",
                                       [_rate(n_proc, lambda t=threads: processes(t)) for _ in range(reps)]))
    return {"figures": figures, "machine": {"python": sys.version.split()[0], "cpus": _cpus()}}


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def render(result: dict[str, Any]) -> str:
    rows = [("figure", "median", "min", "max", "runs")]
    rows += [(f"{f['name']} [{f['unit']}]", f"{f['median']:,.1f}", f"{f['min']:,.1f}", f"{f['max']:,.1f}",
              str(f["runs"])) for f in result["figures"]]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller store and fewer runs")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    parser.add_argument("--keys", type=int, default=None, help="keys to seed for the listing figures")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, keys=args.keys)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
