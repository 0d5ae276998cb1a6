"""Fixtures for the apply tests: a LocalServer, a backend on it through the real SDK, images, declarations, plans."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from reconciler.ops.compose import Backend
from reconciler.declare.load import build_declaration
from reconciler.local import LocalServer
from reconciler.model import Declaration, Plan
from reconciler.plan.observed import plan_declarations

SRC = "src-1250000000"
OUT = "out-1250000000"
REGION = "ap-guangzhou"


def jpeg(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def declaration(name: str = "shop", *, outputs: dict[str, dict[str, Any]] | None = None, prune: bool = False,
                include: Sequence[str] = ("photos/**/*.jpg",)) -> Declaration:
    outputs = outputs or {
        "thumb": {"rule": "imageMogr2/thumbnail/32x/format/webp", "fileid": "/thumbs/{reldir}/{stem}.webp"},
        "png": {"rule": "imageMogr2/format/png", "fileid": "/png/{reldir}/{stem}.png"},
    }
    data = {"version": 1, "name": name, "region": REGION, "bucket": SRC, "prune": prune,
            "pipelines": {"photos": {"source": {"include": list(include)}, "outputs": outputs}}}
    return build_declaration(data, f"{name}.yaml")


def make_plan(decls: Sequence[Declaration], backend: Backend, *, prune: bool = False,
              replace_unmanaged: bool = False) -> Plan:
    """The planner's plan, observed through the backend, exactly as ``cosrecon apply`` makes it."""
    return plan_declarations(decls, backend, prune=prune, replace_unmanaged=replace_unmanaged)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path / "srv", buckets=[SRC, OUT], ci_qps=0, seed=7).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def backend(server: LocalServer) -> Backend:
    return Backend(endpoint=server.endpoint, secret_id=server.secret_id, secret_key=server.secret_key, pool_size=16)


def seed(backend: Backend, keys: Sequence[str], color: str = "red") -> None:
    storage = backend.storage(REGION)
    for key in keys:
        storage.put_object(SRC, key, jpeg(color))


def keys(backend: Backend, bucket: str = SRC, prefix: str = "") -> set[str]:
    return {o.key for o in backend.storage(REGION).list_objects(bucket, prefix)}


def process_calls(server: LocalServer) -> int:
    """image_process requests the server received (throttled and failed ones included)."""
    stats = server.stats()
    return int(stats.get("image_process", stats.get("ImageProcess", 0)))


def slowdowns(server: LocalServer) -> int:
    return sum(v for k, v in server.stats().items() if "SlowDown" in k)


def retire(decl: Declaration, address: str, fileid: str, include: Sequence[str] = ("photos/**/*.jpg",),
           bucket: str = SRC) -> Declaration:
    """``decl`` with one more ``retired:`` entry (an old output definition it answers for)."""
    from dataclasses import replace

    from reconciler.model import RetiredOutput

    return replace(decl, retired=decl.retired + (RetiredOutput(address, bucket, fileid, tuple(include)),))
