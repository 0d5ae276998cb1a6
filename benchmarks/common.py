"""Shared benchmark machinery: timing (median of N runs with min/max), whole-process runs with peak RSS,
the local server and its seeding, the bare-SDK listing floor, server-side call-rate sampling, the results
JSON and the printed table.

Benchmarks measure; they never assert timings. Correctness checks (call counts equal the minimum, converged
runs make no calls) raise ``BenchError`` so a wrong figure is never reported as a result.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BASELINES_DIR = Path(__file__).resolve().parent / "baselines"
REGION = "ap-guangzhou"
BUCKET = "bench-1250000000"


class BenchError(RuntimeError):
    """A benchmark produced a wrong result (wrong call count, a failing process): no figure is reported."""


# --- figures -----------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured quantity over several runs: reported as median with min and max."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""

    def add(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "min": min(self.values) if self.values else None,
            "max": max(self.values) if self.values else None,
            "runs": len(self.values),
            "values": self.values,
            "note": self.note,
        }


def figure(name: str, unit: str, values: Sequence[float], note: str = "") -> dict[str, Any]:
    return Figure(name, unit, [float(v) for v in values], note).as_dict()


def ratio_figure(name: str, numer: Sequence[float], denom: Sequence[float], note: str = "") -> dict[str, Any]:
    """Per-run ratios (run i of numer / run i of denom): runs are paired because they ran side by side."""
    pairs = [a / b for a, b in zip(numer, denom) if b]
    return figure(name, "x", pairs, note)


def target(name: str, value: float, op: str, bound: float, detail: str = "") -> dict[str, Any]:
    """A target check on a measured median: op is one of <=, >=, <, >."""
    ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound, ">": value > bound}[op]
    return {"target": name, "value": value, "op": op, "bound": bound, "met": bool(ok), "detail": detail}


# --- processes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessRun:
    argv: tuple[str, ...]
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float


def run_process(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 1800.0, check: bool = True) -> ProcessRun:
    """Run a whole process; wall time from spawn to exit; peak RSS from wait4's rusage (Linux: KiB)."""
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env, cwd=cwd)
    deadline = start + timeout
    status = 0
    rusage: Any = None
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise BenchError(f"timed out after {timeout:.0f}s: {' '.join(argv)}")
        time.sleep(0.002)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    result = ProcessRun(tuple(argv), seconds, proc.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), rusage.ru_maxrss / 1024.0)
    out.close()
    err.close()
    if check and result.returncode != 0:
        raise BenchError(f"exit {result.returncode}: {' '.join(argv)}\n{result.stderr[-2000:]}\n{result.stdout[-1000:]}")
    return result


def cosrecon_argv() -> list[str]:
    """The CLI as a user runs it: the venv's console script when installed, else ``python -m reconciler``."""
    script = Path(sys.executable).parent / "cosrecon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]


def credentials_env(secret_id: str, secret_key: str, endpoint: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env["TENCENTCLOUD_SECRET_ID"] = secret_id
    env["TENCENTCLOUD_SECRET_KEY"] = secret_key
    env.pop("TENCENTCLOUD_SESSION_TOKEN", None)
    if endpoint:
        env["COSRECON_ENDPOINT"] = endpoint
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --- the local server --------------------------------------------------------------------------------


@contextmanager
def local_server(root: Path, *, buckets: Sequence[str] = (BUCKET,), ci_qps: float = 0.0,
                 latency_ms: float = 0.0) -> Iterator[Any]:
    """The embedded server, in-process on an ephemeral port; stopped on exit."""
    from reconciler.local import LocalServer

    server = LocalServer(root, port=0, buckets=list(buckets), ci_qps=ci_qps, latency_ms=latency_ms)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def seed_objects(root: Path, bucket: str, items: Sequence[tuple[str, bytes]]) -> None:
    """Bulk-write objects into a server root without HTTP (the server's own seeding API)."""
    try:
        from reconciler.local import LocalStore
    except ImportError:
        from reconciler.local.store import LocalStore

    store = LocalStore(root)
    try:
        if hasattr(store, "create_bucket"):
            store.create_bucket(bucket)
        store.put_many(bucket, items)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def copy_root(template: Path, dest: Path) -> Path:
    """A fresh copy of a seeded server root, so every run starts from the same state."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest)
    return dest


def op_counts(server: Any) -> dict[str, int]:
    """Per-operation request counts from ``server.stats()``, flattened to {operation: count}."""
    stats = server.stats()
    counts: Any = stats.get("operations", stats.get("requests", stats)) if isinstance(stats, dict) else {}
    if not isinstance(counts, dict):
        return {}
    return {str(k): int(v) for k, v in counts.items() if isinstance(v, (int, float))}


def process_calls(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if "image_process" in k or k in ("process", "ci_image_process"))


def list_calls(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if "list" in k.lower() or k in ("get_bucket", "GET bucket"))


def total_calls(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k not in ("total",)) if "total" not in counts else counts["total"]


def diff_counts(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


class CallSampler:
    """Samples the server's image_process count every few milliseconds from a thread, to measure the rate the
    server actually saw: over the whole call phase (first call to last) and over the busiest 1-second window."""

    def __init__(self, server: Any, interval: float = 0.01) -> None:
        self._server = server
        self._interval = interval
        self.samples: list[tuple[float, int]] = []
        self.requests: dict[str, int] = {}  # filled by callers: every request the server saw, by operation
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CallSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), process_calls(op_counts(self._server))))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), process_calls(op_counts(self._server))))
            self._stop.wait(self._interval)

    def calls(self) -> int:
        return self.samples[-1][1] - self.samples[0][1] if self.samples else 0

    def phase_rate(self) -> float:
        """The mean rate of the call phase: (calls - 1) intervals over the time from the first call to the last.
        Each end is taken at the midpoint of the sampling interval in which it happened (error ~ 1 interval)."""
        if len(self.samples) < 2:
            return 0.0
        base = self.samples[0][1]
        total = self.samples[-1][1]
        if total - base < 2:
            return 0.0
        i = next(k for k, (_, n) in enumerate(self.samples) if n > base)
        j = next(k for k, (_, n) in enumerate(self.samples) if n == total)
        start = (self.samples[i - 1][0] + self.samples[i][0]) / 2
        end = (self.samples[j - 1][0] + self.samples[j][0]) / 2
        return (total - base - 1) / (end - start) if end > start else math.inf

    def max_window_rate(self, window: float = 1.0) -> float:
        """The most calls seen in any ``window`` seconds (sliding over samples), per second."""
        best = 0
        j = 0
        for i in range(len(self.samples)):
            while self.samples[i][0] - self.samples[j][0] > window:
                j += 1
            best = max(best, self.samples[i][1] - self.samples[j][1])
        return best / window


# --- the bare SDK --------------------------------------------------------------------------------------


def sdk_client(endpoint: str, secret_id: str, secret_key: str, pool: int = 16) -> Any:
    """A cos-python-sdk-v5 client aimed at the local server the way cosrecon's --endpoint does it."""
    from urllib.parse import urlsplit

    from qcloud_cos import CosConfig, CosS3Client

    url = urlsplit(endpoint)
    conf = CosConfig(Region=REGION, SecretId=secret_id, SecretKey=secret_key, Scheme=url.scheme or "http",
                     IP=url.hostname, Port=url.port, PoolConnections=pool, PoolMaxSize=pool)
    return CosS3Client(conf, retry=0)


def sdk_list(client: Any, bucket: str, prefixes: Sequence[str]) -> tuple[int, int]:
    """The listing floor: every object under each prefix, marker pagination, 1000 per page.
    Returns (objects, requests)."""
    objects = requests = 0
    for prefix in prefixes:
        marker = ""
        while True:
            reply = client.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=1000)
            requests += 1
            contents = reply.get("Contents", [])
            objects += len(contents)
            if reply.get("IsTruncated") != "true":
                break
            marker = reply.get("NextMarker") or contents[-1]["Key"]
    return objects, requests


# --- inputs ------------------------------------------------------------------------------------------


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def source_key(i: int) -> str:
    return f"src/d{i // 1000:03d}/img{i:07d}.jpg"


OUTPUTS_3 = (
    ("t64", "imageMogr2/thumbnail/64x/format/webp", "/out/t64/{reldir}/{stem}.webp"),
    ("t32", "imageMogr2/thumbnail/32x/format/png", "/out/t32/{reldir}/{stem}.png"),
    ("gray", "imageMogr2/grayscale/1", "/out/gray/{reldir}/{stem}.jpg"),
)


def declaration_yaml(name: str, outputs: Sequence[tuple[str, str, str]] = OUTPUTS_3,
                     pipelines: int = 1) -> str:
    """A processing set over ``src/**/*.jpg``; outputs split over ``pipelines`` pipelines sharing the sources."""
    lines = ["version: 1", f"name: {name}", f"region: {REGION}", f"bucket: {BUCKET}", "prune: false", "pipelines:"]
    per = math.ceil(len(outputs) / pipelines)
    for p in range(pipelines):
        lines += [f"  p{p}:", "    source:", '      include: ["src/**/*.jpg"]', "    outputs:"]
        for out_name, rule, fileid in outputs[p * per:(p + 1) * per]:
            lines += [f"      {out_name}:", f"        rule: {rule}", f"        fileid: {fileid}"]
    return "\n".join(lines) + "\n"


def output_prefixes(outputs: Sequence[tuple[str, str, str]] = OUTPUTS_3) -> list[str]:
    return [fileid.lstrip("/").split("{", 1)[0] for _, _, fileid in outputs]


def output_key(fileid: str, i: int) -> str:
    key = source_key(i)
    reldir, name = key[len("src/"):].rsplit("/", 1)
    stem = name.rsplit(".", 1)[0]
    return fileid.lstrip("/").replace("{reldir}", reldir).replace("{stem}", stem)


def cli_env_args(endpoint: str, state_dir: Path) -> list[str]:
    return ["--endpoint", endpoint, "--state-dir", str(state_dir)]


def min_calls(n_sources: int, n_outputs: int, per_call: int = 5) -> int:
    return n_sources * math.ceil(n_outputs / per_call)


# --- results -----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform()}


def write_results(results: dict[str, Any], name: str | None = None) -> Path:
    """Write ``results/<timestamp>.json`` and copy it to ``results/latest.json``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = name or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS_DIR / f"{stamp}.json"
    text = json.dumps(results, indent=2, sort_keys=False) + "\n"
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    return path


def fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for part, body in results.get("parts", {}).items():
        for fig in body.get("figures", []):
            rows.append((part, fig["name"], fmt(fig["median"]), fmt(fig["min"]), fmt(fig["max"]), fig["unit"]))
    return rows


def render_table(results: dict[str, Any], markdown: bool = False) -> str:
    header = ("part", "figure", "median", "min", "max", "unit")
    rows = table_rows(results)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, rows)])


def render_targets(results: dict[str, Any], markdown: bool = False) -> str:
    out = []
    for part, body in results.get("parts", {}).items():
        for t in body.get("targets", []):
            mark = "met" if t["met"] else "MISSED"
            out.append(f"{'- ' if markdown else ''}[{mark}] {part}: {t['target']}: {fmt(t['value'])} {t['op']} "
                       f"{fmt(t['bound'])}" + (f" ({t['detail']})" if t.get("detail") else ""))
        for s in body.get("skipped", []):
            out.append(f"{'- ' if markdown else ''}[not measured] {part}: {s}")
    return "\n".join(out)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


DOCS_START = "<!-- results:start (written by python -m benchmarks --update-docs) -->"
DOCS_END = "<!-- results:end -->"


def render_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"Run started {results['started']}, took {results['seconds']} s"
             + (" (--quick)" if results.get("quick") else "") + ".",
             f"Machine: {m['nproc']} cores, CPU `{m['cpu']}`, Python {m['python']}, `{m['platform']}`.", "",
             render_table(results, markdown=True), "", "Targets:", "", render_targets(results, markdown=True)]
    return "\n".join(lines)


def update_docs(results: dict[str, Any], path: Path) -> None:
    """Replace the generated section of docs/benchmarks.md with this run's table and targets."""
    text = path.read_text()
    head, sep, rest = text.partition(DOCS_START)
    _, sep2, tail = rest.partition(DOCS_END)
    if not sep or not sep2:
        raise BenchError(f"{path}: markers {DOCS_START!r} / {DOCS_END!r} not found")
    path.write_text(head + DOCS_START + "\n" + render_markdown(results) + "\n" + DOCS_END + tail)
