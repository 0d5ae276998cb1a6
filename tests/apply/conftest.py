"""Fixtures for the apply tests: a LocalServer, a backend on it through the real SDK, images, declarations, plans."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from reconciler.backend import Backend
from reconciler.declarations import build_declaration, declaration_digest
from reconciler.local import LocalServer
from reconciler.model import Declaration, Plan, SetPlan

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
    """The planner's plan; observed by hand (whole-bucket listings) until reconciler.observe lands."""
    try:
        from reconciler.observe import plan_declarations  # type: ignore[attr-defined]
    except ImportError:
        plan_declarations = None
    if plan_declarations is not None:
        plan: Plan = plan_declarations(decls, backend, prune=prune, replace_unmanaged=replace_unmanaged)
        return plan
    from reconciler.planner import build_set_plan, never_under

    sets: list[SetPlan] = []
    for d in decls:
        storage = backend.storage(d.region)
        skip = never_under(d)
        sources = [o for o in storage.list_objects(d.bucket) if not (skip and o.key.startswith(skip))]
        buckets = {d.bucket} | {o.bucket for p in d.pipelines for o in p.outputs if o.bucket}
        existing = {b: {o.key: o.etag for o in storage.list_objects(b)} for b in buckets}
        ledger = backend.ledgers.read(d)
        sets.append(build_set_plan(d, sources, existing, ledger, prune=prune, replace_unmanaged=replace_unmanaged,
                                   declaration_digest=declaration_digest(d), ledger_generation=ledger.generation))
    return Plan(tuple(sets))


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
