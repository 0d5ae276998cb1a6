"""examples/ stays valid and its images match the globs the way examples/README.md says."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main
from reconciler.declare.load import load_declarations
from reconciler.declare.globs import Selector
from reconciler.declare.templates import FileidTemplate, source_variables
from reconciler.model import resolve_fileid

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
IMAGES = EXAMPLES / "images"
FOLDER = {"shop-1250000000": "shop", "archive-1250000000": "archive", "media-1250000000": "media"}


def _keys(folder: str) -> list[str]:
    base = IMAGES / folder
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


def _outputs() -> dict[str, set[tuple[str, str]]]:
    """set name -> {(bucket, key)} the examples produce from the example images."""
    made: dict[str, set[tuple[str, str]]] = {}
    for decl in load_declarations([EXAMPLES]):
        outs = made.setdefault(decl.name, set())
        for pipeline in decl.pipelines:
            selector = Selector(pipeline.source.include, pipeline.source.exclude, decl.state.prefix)
            for key in _keys(FOLDER[decl.bucket]):
                if not selector.matches(key):
                    continue
                variables = source_variables(key, selector.base_for(key))
                for output in pipeline.outputs:
                    fileid = FileidTemplate(output.fileid).render(variables)
                    outs.add((decl.output_bucket(output), resolve_fileid(key, fileid)))
    return made


def test_examples_validate_clean_through_the_cli() -> None:
    result = CliRunner().invoke(main, ["validate", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Valid: 3 sets, 5 pipelines, 10 outputs in 3 files")


def test_there_are_the_three_documented_examples() -> None:
    names = {d.name: d for d in load_declarations([EXAMPLES])}
    assert set(names) == {"shop", "archive", "cdn"}
    rules = [o.rule for d in names.values() for p in d.pipelines for o in p.outputs]
    assert any("format/webp" in r and "thumbnail" in r for r in rules)
    assert any(r.startswith("ci-process=AISuperResolution") for r in rules)
    assert any(r.startswith("ci-process=AIImageColoring") for r in rules)
    cdn = names["cdn"]
    assert {cdn.output_bucket(o) for p in cdn.pipelines for o in p.outputs} == {"cdn-1250000000"}
    assert cdn.bucket != "cdn-1250000000"


def test_every_example_starts_with_the_schema_comment() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/declaration.schema.json", path


def test_example_images_match_the_globs_as_documented() -> None:
    made = _outputs()
    assert ("shop-1250000000", "thumbs/200/shoes/red.webp") in made["shop"]
    assert ("shop-1250000000", "webp/bags/tote.webp") in made["shop"]
    assert ("shop-1250000000", "banners/summer-sale.webp") in made["shop"]
    assert not any("green" in key for _, key in made["shop"])  # drafts excluded
    assert ("archive-1250000000", "restored/color/1962/harbour.jpg") in made["archive"]
    assert not any("blurry" in key for _, key in made["archive"])  # rejected scans excluded
    assert ("cdn-1250000000", "img/2026/cover-1200.webp") in made["cdn"]
    assert ("cdn-1250000000", "avatars/alice-96.png") in made["cdn"]
    assert {name: len(outs) for name, outs in made.items()} == {"shop": 10, "archive": 9, "cdn": 5}


def test_example_images_are_real_and_small() -> None:
    files = [p for p in IMAGES.rglob("*") if p.is_file()]
    assert 6 <= len(files) <= 12
    assert sum(p.stat().st_size for p in files) < 300_000
    for path in files:
        head = path.read_bytes()[:8]
        assert head.startswith(b"\xff\xd8\xff") or head == b"\x89PNG\r\n\x1a\n", path
