"""The ``retired:`` list: validated like an output (schema, globs, fileid variables), each problem located, and built
into ``RetiredOutput`` values with the set's bucket as the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.declare.load import load_declaration
from reconciler.errors import DeclarationError
from reconciler.model import RetiredOutput

BASE = """\
version: 1
name: shop
region: ap-guangzhou
bucket: src-1250000000
pipelines:
  photos:
    source: {include: ["photos/*.jpg"]}
    outputs:
      thumb: {rule: imageMogr2/thumbnail/32x, fileid: "/thumbs/{stem}.jpg"}
retired:
"""


def test_retired_entries_are_built_with_the_sets_bucket_by_default(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(BASE + '  - {address: photos.png, fileid: "/png/{stem}.png", include: ["photos/*.jpg"]}\n'
                    '  - address: old.web\n    bucket: out-1250000000\n    fileid: "web/{name}"\n'
                    '    include: ["a/**"]\n    exclude: ["a/raw/**"]\n')
    decl = load_declaration(path)
    assert decl.retired == (RetiredOutput("photos.png", "src-1250000000", "/png/{stem}.png", ("photos/*.jpg",)),
                            RetiredOutput("old.web", "out-1250000000", "web/{name}", ("a/**",), ("a/raw/**",)))


@pytest.mark.parametrize("entry, where, message", [
    ('  - {address: png, fileid: "/png/{stem}.png", include: ["photos/*.jpg"]}\n', "$.retired[0].address",
     "<pipeline>.<output>"),
    ('  - {address: photos.png, include: ["photos/*.jpg"]}\n', "$.retired[0]", "fileid"),
    ('  - {address: photos.png, fileid: "/png/{nope}.png", include: ["photos/*.jpg"]}\n', "$.retired[0].fileid",
     "unknown template variable {nope}"),
    ('  - {address: photos.png, fileid: "/png/{stem}.png", include: ["photos/[a.jpg"]}\n',
     "$.retired[0].include[0]", "invalid glob"),
    ('  - {address: photos.png, fileid: "/png/{stem}.png", include: ["photos/*.jpg"], bucket: prod}\n',
     "$.retired[0].bucket", "<name>-<appid>"),
])
def test_a_bad_retired_entry_is_refused_where_it_stands(tmp_path: Path, entry: str, where: str,
                                                        message: str) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(BASE + entry)
    with pytest.raises(DeclarationError) as raised:
        load_declaration(path)
    text = str(raised.value)
    assert f"{path}:11:" in text and where in text and message in text, text
