"""The same loop a user would write, with 16 threads: list the sources, then call ci_image_process for each
one with all its rules from a thread pool. Standalone (only cos-python-sdk-v5), run as a whole process.

    python threaded_loop.py --endpoint http://127.0.0.1:PORT --bucket B --prefix src/ --suffix .jpg \
        --threads 16 --rules '[{"fileid": "/out/t200/{reldir}/{stem}.webp", "rule": "imageMogr2/thumbnail/200x"}]'

Credentials from TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY. Prints one JSON line: listed, calls, failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from qcloud_cos import CosConfig, CosS3Client


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="ap-guangzhou")
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", default="")
    ap.add_argument("--suffix", default="")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--rules", required=True, help="JSON list of {fileid, rule}; fileid may use {reldir} {stem}")
    args = ap.parse_args()
    url = urlsplit(args.endpoint)
    # The SDK sizes its shared connection pool from the first client: make it fit the threads.
    client = CosS3Client(CosConfig(Region=args.region, SecretId=os.environ["TENCENTCLOUD_SECRET_ID"],
                                   SecretKey=os.environ["TENCENTCLOUD_SECRET_KEY"], Scheme=url.scheme,
                                   IP=url.hostname, Port=url.port, PoolConnections=args.threads,
                                   PoolMaxSize=args.threads))
    rules = json.loads(args.rules)
    start = time.perf_counter()
    keys = []
    marker = ""
    while True:
        page = client.list_objects(Bucket=args.bucket, Prefix=args.prefix, Marker=marker, MaxKeys=1000)
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(args.suffix)]
        if page.get("IsTruncated") != "true":
            break
        marker = page.get("NextMarker") or page["Contents"][-1]["Key"]

    def process(key: str) -> bool:
        reldir, _, name = key[len(args.prefix):].rpartition("/")
        stem = name.rsplit(".", 1)[0]
        ops = {"is_pic_info": 0, "rules": [{"fileid": r["fileid"].format(reldir=reldir, stem=stem),
                                            "rule": r["rule"]} for r in rules]}
        try:
            client.ci_image_process(Bucket=args.bucket, Key=key, PicOperations=json.dumps(ops))
            return True
        except Exception as exc:  # a user's loop logs and goes on
            print(f"{key}: {exc}", file=sys.stderr)
            return False

    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        done = list(pool.map(process, keys))
    calls = sum(done)
    failed = len(done) - calls
    print(json.dumps({"listed": len(keys), "calls": calls, "failed": failed,
                      "seconds": time.perf_counter() - start}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
