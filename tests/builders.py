"""The one declaration builder the tests share: a one-pipeline declaration as plain data (to write as a file) or
built (``model.Declaration``), every part overridable; each folder's helpers are thin calls to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.declare.load import build_declaration
from reconciler.model import Declaration

REGION = "ap-guangzhou"
THUMB = {"thumb": {"rule": "imageMogr2/thumbnail/32x/format/webp", "fileid": "/thumbs/{reldir}/{stem}.webp"}}


def declaration_data(name: str = "shop", *, bucket: str, region: str = REGION, pipeline: str = "photos",
                     include: Sequence[str] = ("photos/**/*.jpg",), exclude: Sequence[str] = (),
                     outputs: Mapping[str, Mapping[str, Any]] = THUMB, prune: bool | None = None,
                     **top: Any) -> dict[str, Any]:
    """The document of set ``name`` in ``bucket``: pipeline ``pipeline`` selecting ``include`` (minus ``exclude``)
    with ``outputs``; ``prune`` and any other top-level field (``state``, ``retired``...) only when given."""
    source: dict[str, Any] = {"include": list(include)}
    if exclude:
        source["exclude"] = list(exclude)
    data: dict[str, Any] = {"version": 1, "name": name, "region": region, "bucket": bucket,
                            "pipelines": {pipeline: {"source": source, "outputs": {k: dict(v) for k, v in
                                                                                   outputs.items()}}}}
    if prune is not None:
        data["prune"] = prune
    data.update(top)
    return data


def declaration(name: str = "shop", **parts: Any) -> Declaration:
    """``declaration_data(name, **parts)`` built as ``load`` builds a file's (its path: ``<name>.yaml``)."""
    return build_declaration(declaration_data(name, **parts), f"{name}.yaml")
