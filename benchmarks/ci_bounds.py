"""Peak memory of the local server under issue 15's worst processing requests, four at once.

``python -m benchmarks.ci_bounds`` starts a fresh ``LocalServer`` in a child process per case, sends the case's
request four times concurrently through cos-python-sdk-v5, and prints the reply codes, the wall time and the
child's peak RSS (``VmHWM`` from /proc, Linux only). Not part of ``make bench``: run it by hand.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

BUCKET = "bounds-1250000000"
_CHILD = """
import sys, time
from reconciler.local import LocalServer
srv = LocalServer(sys.argv[1], buckets=[sys.argv[2]], ci_qps=0).start()
print(srv.port, srv.secret_id, srv.secret_key, flush=True)
time.sleep(3600)
"""


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _png(width: int, height: int, mode: str = "1") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, "PNG")
    return buf.getvalue()


CASES: list[tuple[str, bytes, str]] = [
    ("sixteen rotate/45, 100x100 JPEG", _jpeg(100, 100), "imageMogr2/" + "/".join(["rotate/45"] * 16)),
    ("scrop/50000x50000", _jpeg(640, 480), "imageMogr2/scrop/50000x50000"),
    ("AIImageCrop 50000x50000", _jpeg(640, 480), "ci-process=AIImageCrop&width=50000&height=50000"),
    ("GoodsMatting padding-layout=20000x20000", _jpeg(640, 480), "ci-process=GoodsMatting&padding-layout=20000x20000"),
    ("15800x15800 PNG, thumbnail/!50p", _png(15800, 15800), "imageMogr2/thumbnail/!50p"),
    ("8000x8000 RGBA PNG (64 Mpx, over the local budget)", _png(8000, 8000, "RGBA"), "imageMogr2/thumbnail/!50p"),
    ("accepted: 6300x6300 RGBA PNG, thumbnail/!50p", _png(6300, 6300, "RGBA"), "imageMogr2/thumbnail/!50p"),
    ("accepted: 6300x6300 RGBA PNG, rotate/90", _png(6300, 6300, "RGBA"), "imageMogr2/rotate/90"),
    ("accepted: 6300x6300 JPEG, quality/50", _jpeg(6300, 6300), "imageMogr2/quality/50"),
]


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_case(name: str, source: bytes, rule: str, concurrency: int = 4) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as root:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, root, BUCKET], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            port, secret_id, secret_key = child.stdout.readline().split()
            conf = CosConfig(Region="ap-guangzhou", SecretId=secret_id, SecretKey=secret_key, Scheme="http",
                             IP="127.0.0.1", Port=int(port), Timeout=600)
            client = CosS3Client(conf, retry=0)
            client.put_object(Bucket=BUCKET, Key="src", Body=source)
            idle = _peak_kib(child.pid)
            ops = json.dumps({"rules": [{"fileid": "/out", "rule": rule}]})

            def one(_: int) -> str:
                try:
                    client.ci_image_process(Bucket=BUCKET, Key="src", PicOperations=ops)
                    return "200"
                except CosServiceError as exc:
                    return str(exc.get_status_code())

            started = time.monotonic()
            with ThreadPoolExecutor(concurrency) as pool:
                codes = sorted(pool.map(one, range(concurrency)))
            return {"case": name, "codes": codes, "seconds": round(time.monotonic() - started, 2),
                    "source_bytes": len(source), "idle_mib": idle // 1024, "peak_mib": _peak_kib(child.pid) // 1024}
        finally:
            child.kill()
            child.wait()


def main() -> None:
    for name, source, rule in CASES:
        print(json.dumps(run_case(name, source, rule)), flush=True)


if __name__ == "__main__":
    main()
