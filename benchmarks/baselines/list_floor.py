"""The listing floor: the bare SDK listing every object under the given prefixes (marker pagination, 1000 per
page) and nothing else — what any plan must at least do. Standalone, run as a whole process by the benchmarks,
so it pays the same interpreter and SDK start-up as ``cosrecon plan``.

    python list_floor.py --endpoint http://127.0.0.1:PORT --bucket B --prefix src/ --prefix out/t64/

Credentials from TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY. Prints one JSON line: objects, requests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from urllib.parse import urlsplit

from qcloud_cos import CosConfig, CosS3Client


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="ap-guangzhou")
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", action="append", default=[])
    args = ap.parse_args()
    url = urlsplit(args.endpoint)
    client = CosS3Client(CosConfig(Region=args.region, SecretId=os.environ["TENCENTCLOUD_SECRET_ID"],
                                   SecretKey=os.environ["TENCENTCLOUD_SECRET_KEY"], Scheme=url.scheme,
                                   IP=url.hostname, Port=url.port), retry=0)
    start = time.perf_counter()
    objects = requests = 0
    for prefix in args.prefix or [""]:
        marker = ""
        while True:
            page = client.list_objects(Bucket=args.bucket, Prefix=prefix, Marker=marker, MaxKeys=1000)
            requests += 1
            contents = page.get("Contents", [])
            objects += len(contents)
            if page.get("IsTruncated") != "true":
                break
            marker = page.get("NextMarker") or contents[-1]["Key"]
    print(json.dumps({"objects": objects, "requests": requests, "seconds": time.perf_counter() - start}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
