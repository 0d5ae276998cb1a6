"""The local files `cosrecon upload` may read (issue 22: a folder holding ``environ.jpg -> /proc/self/environ``
uploaded the process's environment, secret key included).

Only regular files are read. Inside a folder no symbolic link is followed unless asked (``follow_symlinks``),
and then only one whose target, fully resolved, stays inside that folder; devices, FIFOs, sockets and anything
under ``/proc``, ``/sys`` or ``/dev`` are never read, however they are reached. Each refusal names the path.
``scan`` walks the folders; ``read_regular`` and ``open_regular`` read a file again at upload time without
following a symlink swapped in meanwhile (``O_NOFOLLOW``) and refuse one that is no longer a regular file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reconciler.errors import UsageError

NEVER_READ = ("/proc", "/sys", "/dev")  # pseudo-filesystems: what they hold is the machine's, not a folder's


@dataclass(frozen=True)
class Found:
    """A regular file to upload: ``path`` to read (a followed link's resolved target) and ``relative`` (its place
    in the folder, as the key shows it)."""

    path: Path
    relative: str


def _never_read(resolved: Path) -> bool:
    text = str(resolved)
    return any(text == top or text.startswith(top + "/") for top in NEVER_READ)


def _regular(path: Path, shown: Path) -> Path:
    """``path`` resolved, when it is a regular file outside the pseudo-filesystems; UsageError naming ``shown``."""
    resolved = path.resolve()
    if _never_read(resolved):
        raise UsageError(f"{shown}: refused: it is {resolved}, under /{resolved.parts[1]}, whose files are never "
                         f"uploaded; nothing was uploaded")
    try:
        mode = resolved.stat().st_mode
    except OSError as error:
        raise UsageError(f"{shown}: cannot read it ({error.strerror or error}); nothing was uploaded") from None
    if not stat.S_ISREG(mode):
        raise UsageError(f"{shown}: refused: not a regular file (a device, FIFO or socket is never read); nothing "
                         f"was uploaded")
    return resolved


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def _walk(folder: Path, root: Path, follow: bool, seen: set[Path]) -> Iterator[tuple[Path, Path]]:
    """(path as found, path to read) for every regular file under ``folder``; links per the policy."""
    with os.scandir(folder) as entries:
        listed = sorted(entries, key=lambda e: e.name)
    for entry in listed:
        path = Path(entry.path)
        if entry.is_symlink():
            if not follow:
                raise UsageError(f"{path}: refused: a symbolic link (to {os.readlink(path)}); upload follows none "
                                 f"unless --follow-symlinks, and then only links that stay inside {root}; nothing "
                                 f"was uploaded")
            target = path.resolve()
            if not _inside(target, root):
                raise UsageError(f"{path}: refused: a symbolic link to {target}, outside the folder {root}; "
                                 f"--follow-symlinks follows only links that stay inside it; nothing was uploaded")
            if target.is_dir():
                if target not in seen:  # a link back up the tree would loop
                    seen.add(target)
                    yield from ((path / p.relative_to(target), real) for p, real in _walk(target, root, follow, seen))
                continue
            yield path, _regular(target, path)
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(path, root, follow, seen)
        else:
            yield path, _regular(path, path)


def scan(paths: Sequence[Path], *, follow_symlinks: bool = False) -> list[tuple[Path, list[Found]]]:
    """Each given path with the regular files it stands for (a folder walked, sorted). A path given on the command
    line is the user's own choice and may itself be a link; what a folder holds is data and follows the policy.
    UsageError, naming the path, for anything refused: nothing is uploaded then."""
    out = []
    for given in paths:
        if not given.exists() and not given.is_symlink():
            raise UsageError(f"{given}: no such file or folder")
        resolved = given.resolve()
        if resolved.is_dir() and not _never_read(resolved):
            found = [Found(real, p.relative_to(given).as_posix())
                     for p, real in _walk(given, resolved, follow_symlinks, {resolved})]
        else:
            found = [Found(_regular(given, given), given.name)]
        out.append((given, found))
    return out


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading, refused (OSError) when it is no longer a regular file or is now a link."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode) or _never_read(Path(os.path.realpath(path))):
            raise OSError(f"{path} is not a regular file")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: Path) -> bytes:
    with open_regular(path) as handle:
        return handle.read()
