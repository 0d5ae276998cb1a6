"""CosStorage.delete_objects deletes exactly the keys it is given (issue 22): POST ?delete carries keys in XML, where
a CR comes back as LF and C0 controls cannot be carried at all, so a batch naming ``a\\rb`` deleted ``a\\nb`` — an
object nobody named — and one naming ``c\\x01d`` failed whole. Such keys now go one by one (DELETE names the key
in its URL). Against the local server through the real SDK."""

from __future__ import annotations

from pathlib import Path

from reconciler.local import LocalServer
from reconciler.storage.cos import CosStorage

BUCKET = "delete-1250000000"
REGION = "ap-guangzhou"


def test_delete_objects_never_deletes_a_key_it_was_not_given(tmp_path: Path) -> None:
    with LocalServer(tmp_path, buckets=[BUCKET], ci_qps=0) as srv:
        storage = CosStorage(region=REGION, endpoint=srv.endpoint, secret_id=srv.secret_id,
                             secret_key=srv.secret_key, pool_size=2)
        kept = {"h/a\nb": b"line feed", "h/keep\tme": b"tab"}
        gone = ["h/a\rb", "h/c\x01d", "h/plain", "h/e\x1bf"]
        for key in [*kept, *gone]:
            storage.put_object(BUCKET, key, kept.get(key, b"x"))
        storage.delete_objects(BUCKET, gone)
        assert {o.key for o in storage.list_objects(BUCKET, "h/")} == set(kept)
        for key, body in kept.items():
            assert storage.get_object(BUCKET, key) == body  # byte-identical
