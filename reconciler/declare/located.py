"""Where the declarations name a bucket, for messages: a ``NoSuchBucket`` error raised while a command works on
some declarations gets the ``bucket:`` lines that name that bucket (``file:line:col``), so the user edits the right
line. Reads the declaration files again (an error is rare; nothing is kept for it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from reconciler.declare.load import load_file
from reconciler.errors import StorageError
from reconciler.model import Declaration


def bucket_lines(decls: Sequence[Declaration], bucket: str) -> list[str]:
    """``file:line:col: <field>: <bucket>`` for each place the declarations name ``bucket``."""
    found = []
    for decl in decls:
        places: list[tuple[str | int, ...]] = []
        if decl.bucket == bucket:
            places.append(("bucket",))
        if decl.state.bucket == bucket and decl.state.bucket != decl.bucket:
            places.append(("state", "bucket"))
        places += [("pipelines", p.name, "outputs", o.name, "bucket") for p in decl.pipelines for o in p.outputs
                   if o.bucket == bucket]
        if not places or not decl.path:
            continue
        _, _, document = load_file(decl.path)
        for place in places:
            line, col = document.locate(place) if document is not None else (1, 1)
            found.append(f"{decl.path}:{line}:{col}: {'.'.join(map(str, place))}: {bucket}")
    return found


@contextmanager
def located_buckets(decls: Sequence[Declaration]) -> Iterator[None]:
    """Add to a ``NoSuchBucket`` error raised inside the ``bucket:`` lines of ``decls`` that name that bucket."""
    try:
        yield
    except StorageError as error:
        if error.code != "NoSuchBucket" or not error.bucket:
            raise
        lines = bucket_lines(decls, error.bucket)
        if lines:
            error.details = (*error.details, *(f"declared at {line}" for line in lines))
        raise
