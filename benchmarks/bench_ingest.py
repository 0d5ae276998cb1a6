"""Part 8: ``cosrecon upload`` (processing upon upload) against upload-then-apply, on the local server taking 50 ms
per processing request (``latency_ms``; PUTs with Pic-Operations and image_process calls alike).

N images (500; 100 with --quick) of one folder, one set of 3 outputs per image (one request's worth). Upload-then-
apply: the files PUT by the SDK from 16 threads (a team's own upload tool), then ``cosrecon apply --yes``. Ingest:
``cosrecon upload --yes``. Both at ``--parallelism 16 --max-qps 100``, ledgers in a --state-dir (no COS requests).
Figures: wall time of each (the upload loop plus the apply process; the upload process), and the requests the
server counted, all and processing ones. Target: upload makes N processing requests and no image_process call.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import common as c

MAX_QPS = 100.0


def _processing(counts: dict[str, int]) -> int:
    return counts.get("image_process", 0) + counts.get("ci_put_object", 0)


def _folder(base: Path, sources: int) -> Path:
    folder = base / "images"
    body = c.jpeg_bytes(64, 48)
    for i in range(sources):
        path = folder / c.source_key(i).removeprefix("src/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return folder


def _upload_then_apply(base: Path, folder: Path, decl: Path, run: int) -> tuple[float, dict[str, int]]:
    with c.local_server(base / f"root-a{run}", latency_ms=50) as srv:
        client = c.sdk_client(srv.endpoint, srv.secret_id, srv.secret_key)
        files = sorted(p for p in folder.rglob("*.jpg"))
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            for _ in pool.map(lambda p: client.put_object(Bucket=c.BUCKET, Key="src/" + p.relative_to(folder)
                                                          .as_posix(), Body=p.read_bytes()), files):
                pass
        c.run_process([*c.cosrecon_argv(), "apply", str(decl), "--yes", "--parallelism", "16", "--max-qps",
                       str(MAX_QPS), *c.cli_env_args(srv.endpoint, base / f"state-a{run}")],
                      env=c.credentials_env(srv.secret_id, srv.secret_key))
        return time.perf_counter() - started, c.op_counts(srv)


def _ingest(base: Path, folder: Path, decl: Path, run: int) -> tuple[float, dict[str, int]]:
    with c.local_server(base / f"root-b{run}", latency_ms=50) as srv:
        proc = c.run_process([*c.cosrecon_argv(), "upload", str(folder), "--bucket", c.BUCKET, "--prefix", "src/",
                              "-d", str(decl), "--yes", "--parallelism", "16", "--max-qps", str(MAX_QPS),
                              *c.cli_env_args(srv.endpoint, base / f"state-b{run}")],
                             env=c.credentials_env(srv.secret_id, srv.secret_key))
        return proc.seconds, c.op_counts(srv)


def run(quick: bool = False) -> dict[str, Any]:
    sources = 100 if quick else 500
    reps = 1 if quick else 3
    walls: dict[str, list[float]] = {"a": [], "b": []}
    requests: dict[str, list[float]] = {"a": [], "b": []}
    processing: dict[str, list[float]] = {"a": [], "b": []}
    calls_b: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        folder = _folder(base, sources)
        decl = base / "ingest.yaml"
        decl.write_text(c.declaration_yaml("ingest8"))
        for run_number in range(reps):
            for variant, fn in (("a", _upload_then_apply), ("b", _ingest)):
                seconds, counts = fn(base, folder, decl, run_number)
                walls[variant].append(seconds)
                requests[variant].append(c.total_calls(counts))
                processing[variant].append(_processing(counts))
                if variant == "b":
                    calls_b.append(counts.get("image_process", 0))
    figures = [c.figure(f"upload-then-apply wall time ({sources} images, 3 outputs)", "s", walls["a"]),
               c.figure("cosrecon upload wall time", "s", walls["b"]),
               c.ratio_figure("upload-then-apply / cosrecon upload (wall time)", walls["a"], walls["b"]),
               c.figure("upload-then-apply requests (all)", "requests", requests["a"]),
               c.figure("cosrecon upload requests (all)", "requests", requests["b"]),
               c.figure("upload-then-apply processing requests", "requests", processing["a"]),
               c.figure("cosrecon upload processing requests", "requests", processing["b"])]
    targets = [c.target("cosrecon upload: one processing request per image, no image_process call",
                        max(abs(p - sources) for p in processing["b"]) + max(calls_b), "<=", 0,
                        "|processing requests - images| + image_process calls")]
    return {"figures": figures, "targets": targets,
            "setup": {"sources": sources, "reps": reps, "max_qps": MAX_QPS, "latency_ms": 50}}
