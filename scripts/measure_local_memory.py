"""Peak RSS of the local server under concurrent worst-case processing requests (issue 15).

Each case starts a fresh server in a subprocess (so its peak is its own), seeds the sources, sends the same
request ``--concurrency`` times at once through cos-python-sdk-v5 and reads the server's VmHWM (peak resident
set) from /proc. Linux only.

    .venv/bin/python scripts/measure_local_memory.py [--concurrency 4] [--cases all|name,name]

Prints one line per case: the statuses, the seconds, the server's peak RSS in MiB and its baseline.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "mem-1250000000"
REGION = "ap-guangzhou"
SECRET_ID, SECRET_KEY = "AKIDmeasure", "measure-key"
SERVE = f"""
import sys
from reconciler.local import LocalServer
srv = LocalServer(sys.argv[1], buckets=["{BUCKET}"], secret_id="{SECRET_ID}", secret_key="{SECRET_KEY}", ci_qps=0)
srv.start()
print(srv.port, flush=True)
srv.serve_forever()
"""


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", (width, height), (30, 120, 200))
    image.paste((200, 40, 40), (width // 4, height // 4, width // 2, height // 2))
    image.save(buf, "PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _download(key: str, rule: str) -> Callable[[Any], Any]:
    return lambda c: c.ci_get_object(Bucket=BUCKET, Key=key, DestImagePath="/dev/null", Rule=rule)


def _process(key: str, rule: str) -> Callable[[Any], Any]:
    ops = '{"is_pic_info":0,"rules":[{"fileid":"out/%s.png","rule":"%s"}]}' % (abs(hash(rule)), rule)
    return lambda c: c.ci_image_process(Bucket=BUCKET, Key=key, PicOperations=ops)


CASES: dict[str, Callable[[Any], Any]] = {
    "png15800-thumbnail": _download("big.png", "imageMogr2/thumbnail/100x"),
    "png15800-rotate45": _process("big.png", "imageMogr2/rotate/45"),
    "jpeg-rotate45x16": _download("small.jpg", "imageMogr2/" + "/".join(["rotate/45"] * 16)),
    "jpeg-scrop50000": _download("small.jpg", "imageMogr2/scrop/50000x50000"),
    "jpeg-aiimagecrop50000": _download("small.jpg", "ci-process=AIImageCrop&width=50000&height=50000"),
    "jpeg-goodsmatting20000": _download("small.jpg", "ci-process=GoodsMatting&padding-layout=20000x20000"),
    "png40mpx-blur": _process("max.png", "imageMogr2/blur/20x10"),
    "png40mpx-rotate90": _process("max.png", "imageMogr2/rotate/90"),
    "png40mpx-webp": _download("max.png", "imageMogr2/format/webp"),
    "png40mpx-rotate-blur": _process("max.png", "imageMogr2/rotate/90/blur/20x10"),
    "png40mpx-rotate-blur-download": _download("max.png", "imageMogr2/rotate/90/blur/20x10"),
}
MIXED = ["png40mpx-blur", "png40mpx-rotate90", "png40mpx-webp", "jpeg-rotate45x16"]  # the case "mixed": one each


def _peak_mib(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def _client(port: int) -> Any:
    conf = CosConfig(Region=REGION, SecretId=SECRET_ID, SecretKey=SECRET_KEY, Scheme="http", IP="127.0.0.1",
                     Port=port, Timeout=600, PoolMaxSize=16)
    return CosS3Client(conf, retry=0)


def _outcome(call: Callable[[Any], Any], client: Any) -> str:
    try:
        call(client)
        return "200"
    except CosServiceError as exc:
        return f"{exc.get_status_code()} {exc.get_error_code() if exc.get_error_code() != 'Unknown' else ''}".strip()


def measure(name: str, sources: dict[str, bytes], concurrency: int) -> str:
    with tempfile.TemporaryDirectory() as root:
        server = subprocess.Popen([sys.executable, "-c", SERVE, root], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            client = _client(port)
            for key, body in sources.items():
                client.put_object(Bucket=BUCKET, Key=key, Body=body)
            baseline, _ = _peak_mib(server.pid)
            start = time.monotonic()
            calls = [CASES[n] for n in MIXED] if name == "mixed" else [CASES[name]] * concurrency
            with ThreadPoolExecutor(len(calls)) as pool:
                outcomes = list(pool.map(lambda call: _outcome(call, client), calls))
            seconds = time.monotonic() - start
            peak, _ = _peak_mib(server.pid)
        finally:
            server.terminate()
            server.wait(10)
    replies = ", ".join(f"{outcome} x{outcomes.count(outcome)}" for outcome in sorted(set(outcomes)))
    return (f"{name:24} x{len(calls)}: {replies:38} {seconds:6.1f} s  "
            f"peak RSS {peak:7.0f} MiB (baseline after seeding {baseline:.0f} MiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--cases", default="all")
    args = parser.parse_args()
    names = [*CASES, "mixed"] if args.cases == "all" else args.cases.split(",")
    sources = {"big.png": _png(15800, 15800), "small.jpg": _jpeg(64, 48), "max.png": _png(6320, 6320)}
    print("sources: " + ", ".join(f"{k} {len(v) / 1024:.0f} KiB" for k, v in sources.items()))
    for name in names:
        print(measure(name, sources, args.concurrency), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
