"""Fixtures for the Pulumi tests. Nothing is put on sys.path: the provider lives in the installed package."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

PROGRAM_DIR = Path(__file__).resolve().parents[2] / "pulumi_program"

CATALOG = """\
version: 1
name: {name}
region: ap-guangzhou
bucket: {bucket}
prune: {prune}
pipelines:
  thumbnails:
    source:
      include: ["products/**/*.jpg"]
    outputs:
      thumb-200:
        rule: {rule}
        fileid: /thumbs/{{dir}}/{{stem}}-200.webp
      small:
        rule: imageMogr2/thumbnail/64x/format/png
        fileid: /small/{{dir}}/{{stem}}.png
"""


def jpeg(color: tuple[int, int, int] = (120, 80, 200)) -> bytes:
    """A small real JPEG (the local server decodes what it processes)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buffer, "JPEG")
    return buffer.getvalue()


def declaration_text(name: str = "catalog", bucket: str = "examplebucket-1250000000", *, prune: bool = False,
                     rule: str = "imageMogr2/thumbnail/200x/format/webp") -> str:
    return CATALOG.format(name=name, bucket=bucket, prune="true" if prune else "false", rule=rule)


@pytest.fixture
def write_declaration(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(filename: str, text: str) -> Path:
        path = tmp_path / "decls" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
