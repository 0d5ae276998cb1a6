"""`cosrecon local import` through click's runner, and the seeding APIs it rests on."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.local import LocalServer, LocalStore, import_tree
from tests.local.conftest import jpeg, make_client


def test_local_import_copies_a_tree(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    (src / "2024" / "june").mkdir(parents=True)
    (src / "a.jpg").write_bytes(jpeg(32, 24))
    (src / "2024" / "june" / "b c.jpg").write_bytes(b"not really")
    root = tmp_path / "root"
    result = CliRunner().invoke(main, ["local", "import", str(src), "--bucket", "imp-1250000000",
                                       "--prefix", "in/", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 object(s)" in result.output
    with LocalServer(root) as srv:
        client = make_client(srv)
        keys = [c["Key"] for c in client.list_objects(Bucket="imp-1250000000")["Contents"]]
        assert keys == ["in/2024/june/b c.jpg", "in/a.jpg"]
        head = client.head_object(Bucket="imp-1250000000", Key="in/a.jpg")
        assert head["Content-Type"] == "image/jpeg" and head["Content-Length"] == str(len(jpeg(32, 24)))


def test_local_import_errors_are_messages(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["local", "import", str(tmp_path / "nope"), "--bucket", "b-1"])
    assert result.exit_code != 0 and "does not exist" in result.output
    result = runner.invoke(main, ["local", "import", str(tmp_path), "--bucket", "Bad_Name",
                                  "--root", str(tmp_path / "r")])
    assert result.exit_code == 1 and "Bad_Name" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["local", "serve", "--bucket", "Bad_Name", "--root", str(tmp_path / "r")])
    assert result.exit_code == 1 and "Bad_Name" in result.output


def test_put_many_seeds_in_one_transaction(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.put_many("seed-1", ((f"k{i:06d}", b"x" * (i % 7)) for i in range(20_000))) == 20_000
    page = store.list_page("seed-1", prefix="k0199", max_keys=1000)
    assert [o.key for o in page.objects] == [f"k0199{i:02d}" for i in range(100)] and not page.truncated
    assert store.head("seed-1", "k000008") is not None and store.head("seed-1", "k000008").size == 1  # type: ignore[union-attr]
    store.close()
    with pytest.raises(NotADirectoryError):
        import_tree(tmp_path, tmp_path / "index.sqlite3", "seed-1")


def test_server_rejects_bad_bucket_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Bad"):
        LocalServer(tmp_path, buckets=["Bad"])
