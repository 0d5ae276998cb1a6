"""`cosrecon upload` reads only regular files inside its folders (issue 22), through the CLI against the local
server with the real SDK: a folder holding ``environ.jpg -> /proc/self/environ`` and ``passwd.jpg -> /etc/passwd``
uploads neither (exit 1, the link named, nothing stored); ``--follow-symlinks`` follows only links that stay
inside the folder; FIFOs and /proc files are never read; a source whose processing upon upload fails is deleted
again unless ``--keep-unprocessed``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.local import LocalServer
from reconciler.ops.compose import Backend
from reconciler.storage.localfiles import read_regular
from tests.apply.conftest import REGION, SRC, jpeg, keys
from tests.apply.test_cli_ingest import run, write_sets


def _args(tmp_path: Path, *extra: str) -> list[str]:
    decls = [str(p) for p in write_sets(tmp_path)]
    return ["--bucket", SRC, "--prefix", "photos/", "--yes", "-d", decls[0], "-d", decls[1],
            "--state-dir", str(tmp_path / "state"), *extra]


def _all_objects(backend: Backend) -> dict[str, str]:
    return {o.key: o.etag for o in backend.storage(REGION).list_objects(SRC, "")}


def test_links_out_of_the_folder_upload_nothing_and_are_named(server: LocalServer, backend: Backend,
                                                              tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "fine.jpg").write_bytes(jpeg())
    (folder / "environ.jpg").symlink_to("/proc/self/environ")
    (folder / "passwd.jpg").symlink_to("/etc/passwd")
    before = _all_objects(backend)
    for extra in ((), ("--follow-symlinks",)):
        code, out, err = run(server, "upload", str(folder), *_args(tmp_path, *extra))
        assert code == 1, out + err
        text = out + err
        assert "environ.jpg" in text and "symbolic link" in text and "nothing was uploaded" in text
        assert "Traceback" not in text and server.secret_key not in text
        assert _all_objects(backend) == before  # nothing stored, not even fine.jpg


def test_follow_symlinks_follows_links_that_stay_inside(server: LocalServer, backend: Backend,
                                                        tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "real").mkdir(parents=True)
    (folder / "real" / "a.jpg").write_bytes(jpeg("red"))
    (folder / "alias.jpg").symlink_to(folder / "real" / "a.jpg")
    (folder / "more").symlink_to(folder / "real")  # a folder link inside
    (folder / "real" / "loop").symlink_to(folder)  # a link back up: followed once, never looping
    code, out, err = run(server, "upload", str(folder), *_args(tmp_path))
    assert code == 1 and "alias.jpg" in out + err and "--follow-symlinks" in out + err
    assert not keys(backend, prefix="photos/")
    code, out, err = run(server, "upload", str(folder), *_args(tmp_path, "--follow-symlinks"))
    assert code == 0, out + err
    assert keys(backend, prefix="photos/") == {"photos/real/a.jpg", "photos/alias.jpg", "photos/more/a.jpg"}


def test_a_fifo_and_a_proc_file_are_never_read(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg())
    os.mkfifo(folder / "pipe.jpg")  # reading it would block forever
    before = _all_objects(backend)
    code, out, err = run(server, "upload", str(folder), *_args(tmp_path))
    assert code == 1 and "pipe.jpg" in out + err and "not a regular file" in out + err, out + err
    code, out, err = run(server, "upload", "/proc/self/environ", *_args(tmp_path))
    assert code == 1 and "/proc" in out + err and "never uploaded" in out + err, out + err
    assert _all_objects(backend) == before


def _broken_image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")  # selected, but processing refuses it
    return folder


def test_a_source_whose_processing_fails_is_deleted_again(server: LocalServer, backend: Backend,
                                                          tmp_path: Path) -> None:
    folder = _broken_image_folder(tmp_path)
    code, out, err = run(server, "upload", str(folder), *_args(tmp_path))
    assert code == 1 and "Upload failed: photos/broken.jpg" in out, out + err
    assert "Deleted again 1 uploaded file(s)" in out and "--keep-unprocessed" in out
    assert keys(backend) == set()  # neither the source nor any output stands


def test_keep_unprocessed_keeps_it(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    folder = _broken_image_folder(tmp_path)
    code, out, err = run(server, "upload", str(folder), *_args(tmp_path, "--keep-unprocessed"))
    assert code == 1 and "Deleted again" not in out, out + err
    assert keys(backend) == {"photos/broken.jpg"}


def test_a_source_that_stood_before_is_never_deleted_again(server: LocalServer, backend: Backend,
                                                           tmp_path: Path) -> None:
    folder = _broken_image_folder(tmp_path)
    data = (folder / "broken.jpg").read_bytes()
    backend.storage(REGION).put_object(SRC, "photos/broken.jpg", data)
    code, out, err = run(server, "upload", str(folder), *_args(tmp_path, "--force"))
    assert code == 1 and "Deleted again" not in out, out + err
    assert backend.storage(REGION).get_object(SRC, "photos/broken.jpg") == data


def test_a_link_swapped_in_after_the_scan_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "environ.jpg"
    path.write_bytes(jpeg())
    assert read_regular(path) == jpeg()
    path.unlink()
    path.symlink_to("/proc/self/environ")  # swapped between the scan and the read
    with pytest.raises(OSError):
        read_regular(path)
