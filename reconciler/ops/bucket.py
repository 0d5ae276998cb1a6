"""``cosrecon local bucket create``'s operation: COS's PUT Bucket, sent through the SDK to the server a connection
names (a running ``cosrecon local serve``)."""

from __future__ import annotations

from reconciler.ops.compose import Connection, connect
from reconciler.storage import BucketMaker


def create_bucket(connection: Connection, name: str, region: str) -> bool:
    """Make bucket ``name``: True when made, False when it already existed (the caller's own)."""
    with connect(connection) as backend:
        storage = backend.storage(region)
        assert isinstance(storage, BucketMaker), "the storage of a connection is COS's"
        return storage.create_bucket(name)
