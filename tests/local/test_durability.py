"""kill -9 durability: `cosrecon local serve` as a subprocess under write load is killed with SIGKILL;
after a restart every acknowledged write is there with its body, and the index matches the files."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from qcloud_cos.cos_exception import CosClientError, CosServiceError

from reconciler.local import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, LocalServer, LocalStore
from tests.local.conftest import make_client

BUCKET = "durable-1250000000"


class _Endpoint:
    def __init__(self, port: int) -> None:
        self.port = port
        self.secret_id = DEFAULT_SECRET_ID
        self.secret_key = DEFAULT_SECRET_KEY


def _start(root: Path) -> tuple[subprocess.Popen[str], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENCENTCLOUD_")}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "local", "serve", "--root", str(root),
                             "--port", "0", "--bucket", BUCKET], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
    assert match, first + (proc.stderr.read() if proc.stderr else "")
    return proc, int(match.group(1))


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc, port = _start(root)
    acked: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        client = make_client(_Endpoint(port), pool=1)  # type: ignore[arg-type]
        i = 0
        while not stop.is_set():
            size = 200_000 if i % 5 == 0 else 100 + i  # both inline bodies and body files
            body = hashlib.sha256(f"{w}-{i}".encode()).digest() * (size // 32)
            key = f"w{w}/{i:05d}"
            try:
                client.put_object(Bucket=BUCKET, Key=key, Body=body)
            except (CosClientError, CosServiceError, OSError):
                return  # the server died mid-request: this write was never acknowledged
            with lock:
                acked[key] = hashlib.md5(body).hexdigest()
            i += 1

    started: dict[str, str] = {}  # multipart key -> upload id, completed or not

    def multipart_writer() -> None:
        client = make_client(_Endpoint(port), pool=1)  # type: ignore[arg-type]
        i = 0
        while not stop.is_set():
            key = f"mp/{i:05d}"
            parts = [hashlib.sha256(key.encode()).digest() * (1024 * 1024 // 32), key.encode()]
            try:
                upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
                with lock:
                    started[key] = upload_id
                etags = [client.upload_part(Bucket=BUCKET, Key=key, Body=data, PartNumber=n, UploadId=upload_id)["ETag"]
                         for n, data in enumerate(parts, 1)]
                client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={
                    "Part": [{"PartNumber": str(n), "ETag": e} for n, e in enumerate(etags, 1)]})
            except (CosClientError, CosServiceError, OSError):
                return
            with lock:
                acked[key] = hashlib.md5(b"".join(parts)).hexdigest()
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=multipart_writer))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-load
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 150

    store = LocalStore(root)  # reopening sweeps the temp directory
    assert store.verify() == []
    assert list((root / "tmp").iterdir()) == []
    store.close()
    with LocalServer(root) as srv:
        client = make_client(srv)
        for key, md5 in acked.items():
            body = client.get_object(Bucket=BUCKET, Key=key)["Body"].get_raw_stream().read()
            assert hashlib.md5(body).hexdigest() == md5, key
        listed = set()
        marker = ""
        while True:
            page = client.list_objects(Bucket=BUCKET, Marker=marker)
            listed |= {c["Key"] for c in page.get("Contents", [])}
            if page["IsTruncated"] == "false":
                break
            marker = page["NextMarker"]
        assert set(acked) <= listed
        # a multipart upload killed mid-way is still an upload OR (if its complete committed) an object, never both
        pending = {u["UploadId"] for u in client.list_multipart_uploads(Bucket=BUCKET).get("Upload", [])}
        assert any(key.startswith("mp/") for key in acked)
        for key, upload_id in started.items():
            assert (key in listed) != (upload_id in pending), key


def test_serve_prints_endpoint_and_never_an_environment_secret(tmp_path: Path) -> None:
    env = {**os.environ, "TENCENTCLOUD_SECRET_ID": "AKIDenvironment", "TENCENTCLOUD_SECRET_KEY": "do-not-print-me"}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "local", "serve", "--root", str(tmp_path),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    text = "".join(lines) + out + err
    assert "http://127.0.0.1:" in text and "AKIDenvironment" in text and "do-not-print-me" not in text
    assert proc.returncode == 0
