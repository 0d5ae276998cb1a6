"""``cosrecon local inventory``'s operation: write a COS Inventory report of a bucket now, through the running local
server (``endpoint``) or the store under ``root`` served in-process for the call (``storage.inventory_report``)."""

from __future__ import annotations

from pathlib import Path

from reconciler.ops.compose import open_backend
from reconciler.storage.inventory_report import Written, write_report


def write_inventory(bucket: str, destination: str, prefix: str, config_id: str, *, endpoint: str | None,
                    root: Path, region: str) -> Written:
    """Report ``bucket`` to ``destination`` under ``prefix`` (``<prefix>/<appid>/<bucket>/<config_id>/<date>/``)."""
    with open_backend(endpoint=endpoint, local_root=None if endpoint else root) as backend:
        return write_report(backend.storage(region), bucket, destination, prefix, config_id)
