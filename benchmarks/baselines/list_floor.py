"""The listing floor: the bare SDK listing every object under the given prefixes (marker pagination, 1000 per
page) and nothing else — what any plan must at least do. Standalone, run as a whole process by the benchmarks,
so it pays the same interpreter and SDK start-up as ``cosrecon plan``.

    python list_floor.py --endpoint http://127.0.0.1:PORT --bucket B --prefix src/ --prefix out/t64/ [--fast]

Default: ``CosS3Client.list_objects`` (the bare SDK). ``--fast``: the same signed requests through the SDK's own
request path (``send_request`` + ``CosS3Auth``), pages parsed with ElementTree instead of the SDK's xml_to_dict —
the fastest listing this SDK's transport allows (what cosrecon's storage adapter does).

Credentials from TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY. Prints one JSON line: objects, requests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote, urlsplit

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_auth import CosS3Auth
from qcloud_cos.cos_comm import format_values


def fast_page(client: Any, bucket: str, prefix: str, marker: str) -> tuple[int, bool, str]:
    """One page via the SDK's request path, parsed with ElementTree: (objects, truncated, next marker)."""
    conf = client._conf
    params = format_values({"prefix": prefix, "delimiter": "", "marker": marker, "max-keys": 1000,
                            "encoding-type": "url"})
    reply = client.send_request(method="GET", url=conf.uri(bucket=bucket), bucket=bucket, params=params,
                                headers={}, auth=CosS3Auth(conf, params=params))
    root = ET.fromstring(reply.content)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    keys = [unquote(e.text or "") for e in root.iter(f"{ns}Key")]
    truncated = (root.findtext(f"{ns}IsTruncated") or "") == "true"
    return len(keys), truncated, unquote(root.findtext(f"{ns}NextMarker") or (keys[-1] if keys else ""))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="ap-guangzhou")
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", action="append", default=[])
    ap.add_argument("--fast", action="store_true", help="SDK request path, ElementTree parsing")
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
            requests += 1
            if args.fast:
                count, truncated, marker = fast_page(client, args.bucket, prefix, marker)
                objects += count
                if not truncated:
                    break
                continue
            page = client.list_objects(Bucket=args.bucket, Prefix=prefix, Marker=marker, MaxKeys=1000)
            contents = page.get("Contents", [])
            objects += len(contents)
            if page.get("IsTruncated") != "true":
                break
            marker = page.get("NextMarker") or contents[-1]["Key"]
    print(json.dumps({"objects": objects, "requests": requests, "seconds": time.perf_counter() - start}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
