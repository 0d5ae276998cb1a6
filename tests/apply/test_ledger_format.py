"""The compact ledger file (format 2): layout, schema, piecewise reading, format 1 still read, clear errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from benchmarks import bench_planner
from reconciler.state import ledger as fmt
from reconciler.state import ledger_file as lines
from reconciler.state.blobs import DirBlobs, dump_json
from reconciler.errors import StateError
from reconciler.state.index import ChangedEntries, LedgerIndex
from reconciler.model import Declaration, Ledger, LedgerEntry, StateLocation
from reconciler.state.store import LEDGER_NAME, LedgerStore

ROOT = Path(__file__).resolve().parents[2]
B, C = "b-1250000000", "cdn-1250000000"


def schema() -> dict[str, object]:
    data: dict[str, object] = json.loads((ROOT / "schemas" / "ledger.schema.json").read_text())
    return data


def sample(n: int = 40) -> Ledger:
    entries: dict[tuple[str, str], LedgerEntry] = {}
    for i in range(n):
        for bucket, address, where in ((B, "p.thumb", "t"), (B, "p.large", "l"), (C, "p.cdn", "c")):
            e = LedgerEntry(bucket, f"{where}/{i:03d}.webp", address, f"img/{i:03d}.jpg", f"src-{i}",
                            f"fp-{where}", f"out-{where}-{i}", f"2026-01-0{1 + i % 3}T00:00:00Z")
            entries[(bucket, e.key)] = e
    return Ledger("catalog", "7", entries, {"version": 1, "name": "catalog", "note": "é \n"})


def pieces(raw: bytes, size: int) -> list[bytes]:
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def test_written_file_is_one_json_document_valid_against_the_schema() -> None:
    ledger = sample()
    raw = lines.render_ledger(ledger)
    doc = json.loads(raw)
    jsonschema.validate(doc, schema())
    assert doc["format_version"] == 2 and doc["count"] == 120 and len(doc["groups"]) == 40
    assert doc["outputs"] == [[B, "p.large", "fp-l"], [B, "p.thumb", "fp-t"], [C, "p.cdn", "fp-c"]]
    # header on the first line, one source per line, then the closing line
    text = raw.decode()
    assert text.endswith("\n]}\n") and len(text.splitlines()) == 1 + 40 + 1
    assert json.loads(text.splitlines()[1].rstrip(",")) == doc["groups"][0]
    assert lines.render_ledger(Ledger("catalog", "7", dict(reversed(list(ledger.entries.items()))),
                                      ledger.declaration)) == raw  # independent of the entries' order


def test_format_2_is_far_smaller_than_format_1() -> None:
    ledger = sample(200)
    assert len(lines.render_ledger(ledger)) * 3 < len(dump_json(fmt.ledger_to_data(ledger)))


@pytest.mark.parametrize("size", [1, 7, 100, 4096, 1 << 22])
def test_round_trip_whole_or_in_pieces_of_any_size(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = sample()
    raw = lines.render_ledger(ledger)
    assert lines.parse_ledger(pieces(raw, size)) == ledger
    monkeypatch.setattr(lines, "_CHUNK", min(size, 1 << 20))  # whole bodies are cut into pieces of this size
    assert lines.parse_ledger(raw) == ledger


def test_empty_ledger_round_trip() -> None:
    empty = Ledger("catalog", "0")
    raw = lines.render_ledger(empty)
    jsonschema.validate(json.loads(raw), schema())
    assert lines.parse_ledger(raw) == empty and lines.parse_ledger(pieces(raw, 1)) == empty


def test_read_entries_are_held_one_group_per_source() -> None:
    loaded = lines.parse_ledger(lines.render_ledger(sample()))
    table = loaded.entries
    assert isinstance(table, LedgerIndex)
    a, b = table[(B, "t/001.webp")], table[(B, "l/001.webp")]
    assert a.source_key is b.source_key and a.bucket is b.bucket
    assert a.fingerprint is table[(B, "t/002.webp")].fingerprint and a.made_at is table[(B, "t/004.webp")].made_at
    assert len(table.all) == len({e.source_key for e in sample().entries.values()})
    assert table.by_key[B]["t/001.webp"] is table.by_key[B]["l/001.webp"]


def test_format_1_and_reindented_format_2_are_still_read() -> None:
    ledger = sample()
    v1 = dump_json(fmt.ledger_to_data(ledger))
    jsonschema.validate(json.loads(v1), schema())
    assert lines.parse_ledger(v1) == ledger and lines.parse_ledger(pieces(v1, 50)) == ledger
    compact_v1 = json.dumps(fmt.ledger_to_data(ledger)).encode()  # one line, no newline at all
    assert lines.parse_ledger(pieces(compact_v1, 64)) == ledger
    reindented = json.dumps(json.loads(lines.render_ledger(ledger)), indent=2).encode()
    assert lines.parse_ledger(reindented) == ledger


def test_bench_writes_the_same_bytes_as_the_store(tmp_path: Path) -> None:
    for n in (0, 3, 1200):
        path = tmp_path / f"{n}.json"
        bench_planner.write_ledger(path, n)
        loaded = lines.parse_ledger(path.read_bytes())
        assert len(loaded.entries) == 3 * n and lines.render_ledger(loaded) == path.read_bytes()


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda raw: raw[:len(raw) // 2], "truncated|line"),
    (lambda raw: raw[:raw.rindex(b"]}")], "truncated"),
    (lambda raw: raw.replace(b'"count":120', b'"count":121'), "holds 120 entries where its header says 121"),
    (lambda raw: raw.replace(b'[[0,"l/003.webp"', b'[[9,"l/003.webp"'), "line 5: expected"),
    (lambda raw: raw.replace(b'"src-5",', b'"src-5"', 1), "line 7: not valid JSON"),
    (lambda raw: raw.replace(b'"img/006.jpg"', b'6', 1), "line 8: expected"),
    (lambda raw: raw.replace(b"],\n[", b"]\n[", 1), "line 2: expected a comma|line 2"),
    (lambda raw: raw + b"[1]\n", "after the closing"),
    (lambda raw: raw.replace(b'"format_version":2', b'"format_version":99'), "format_version"),
    (lambda raw: raw.replace(b'"kind":"ledger"', b'"kind":"journal"'), "expected a ledger"),
    (lambda raw: b"\xff" + raw, "not valid JSON"),
])
def test_damaged_files_are_refused_naming_the_line(mangle: object, message: str) -> None:
    raw = lines.render_ledger(sample())
    damaged = mangle(raw)  # type: ignore[operator]
    for data in (damaged, pieces(damaged, 37)):
        with pytest.raises(StateError, match=message) as caught:
            lines.parse_ledger(data, "state/catalog/ledger.json")
        assert str(caught.value).startswith("state/catalog/ledger.json: ")


def test_store_writes_format_2_and_reads_a_format_1_ledger(tmp_path: Path) -> None:
    store = LedgerStore(lambda region: pytest.fail("no COS in this test"), tmp_path)
    d = Declaration(name="catalog", region="ap-guangzhou", bucket=B, pipelines=(), state=StateLocation(B))
    ledger = sample()
    path = tmp_path / "catalog" / LEDGER_NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(dump_json(fmt.ledger_to_data(ledger)))  # left by an older cosrecon
    assert store.read(d) == ledger
    new = store.compact(d, store.read(d), ledger.declaration, ())
    assert json.loads(path.read_bytes())["format_version"] == 2 and store.read(d) == new
    assert dict(new.entries) == dict(ledger.entries)


def test_dir_blobs_read_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.state import blobs

    monkeypatch.setattr(blobs, "CHUNK", 10)
    store = DirBlobs(tmp_path)
    assert store.read_chunks("absent.json") is None
    store.write("x.json", b"0123456789abcdefghijXYZ")
    got = store.read_chunks("x.json")
    assert got is not None and list(got) == [b"0123456789", b"abcdefghij", b"XYZ"]


def non_ascii() -> Ledger:
    e = LedgerEntry(B, "t/façade-é.webp", "p.thumb", "img/façade-é.jpg", "s", "fp", "o", "2026-01-01T00:00:00Z")
    return Ledger("catalog", "2", {(B, e.key): e}, {"name": "é"})


@pytest.mark.parametrize("size", [1, 2, 5, 64, 1 << 20])
def test_format_1_is_read_piece_by_piece(size: int) -> None:
    for ledger in (sample(), non_ascii(), Ledger("catalog", "0")):
        v1 = dump_json(fmt.ledger_to_data(ledger))
        assert lines.parse_ledger(pieces(v1, size)) == ledger
        compact = json.dumps(fmt.ledger_to_data(ledger), ensure_ascii=False, separators=(",", ":")).encode()
        assert lines.parse_ledger(pieces(compact, size)) == ledger


def test_reading_format_1_never_holds_the_whole_document() -> None:
    import tracemalloc

    v1 = dump_json(fmt.ledger_to_data(sample(3000)))
    transient = []  # memory held while reading beyond the ledger read

    def streamed() -> Ledger:
        return lines.parse_ledger(v1[i:i + 4096] for i in range(0, len(v1), 4096))

    def whole() -> Ledger:
        return fmt.ledger_from_data(json.loads(v1))

    for read in (streamed, whole):
        tracemalloc.start()
        ledger = read()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(ledger.entries) == 9000
        transient.append(peak - current)
    assert transient[0] * 3 < transient[1]


@pytest.mark.parametrize(("v1", "message"), [
    (b'{"format_version": 1, "kind": "ledger", "entries": [', "not valid JSON"),
    (b'{"format_version": 1, "kind": "ledger", "entries": [{"bucket": "b"}]}', r"entries\[0\]: ledger entry lacks"),
    (b'{"format_version": 99, "kind": "ledger", "entries": []}', "format_version 99"),
    (b'{"kind": "ledger", "entries": []}', "format_version None"),
    (b'{"format_version": 1, "kind": "journal", "records": []}', "expected a ledger"),
    (b'{"format_version": 1, "kind": "ledger", "entries": []} {}', "extra data"),
    (b'{"format_version": 1, "kind": "ledger", "entries": {}}', "entries must be a list"),
    (b'{"format_version": 1 "kind": "ledger"}', "expected ','"),
    (b'[1, 2]', "expected '{'"),
    (b'', "expected '{'"),
])
def test_damaged_format_1_is_refused(v1: bytes, message: str) -> None:
    for data in (v1, pieces(v1, 3)):
        with pytest.raises(StateError, match=message) as caught:
            lines.parse_ledger(data, "state/catalog/ledger.json")
        assert str(caught.value).startswith("state/catalog/ledger.json: ")


def test_a_runs_changes_over_a_read_ledger_write_the_same_bytes_as_a_plain_copy() -> None:
    ledger = sample()
    read = lines.parse_ledger(lines.render_ledger(ledger))
    changed = ChangedEntries(read.entries)
    plain = dict(ledger.entries)
    first, second, third = list(plain)[:3]
    new = replace(plain[first], output_etag="remade", made_at="2026-11-25T00:00:00Z")
    moved = replace(plain[second], key="elsewhere/x.webp", source_key="img/new.jpg", source_etag="s-new")
    for where in (first, second, third):
        if where != first:
            changed.delete(where)
            plain.pop(where)
    changed.put(new)
    changed.put(moved)
    changed.delete(("nope", "x"))  # not there: nothing to do
    plain[first], plain[(moved.bucket, moved.key)] = new, moved
    assert dict(changed) == plain and len(changed) == len(plain) and first in changed and second not in changed
    assert changed[first] == new and changed.hidden() == {first, second, third}
    with pytest.raises(KeyError):
        changed[third]
    changed.put(read.entries[third])  # put back as it was
    plain[third] = read.entries[third]
    assert len(changed) == len(plain) and changed.hidden() == {first, second, third}
    assert lines.render_ledger(Ledger("catalog", "7", changed)) == lines.render_ledger(Ledger("catalog", "7", plain))
    assert lines.render_ledger(Ledger("catalog", "7", read.entries)) == \
        lines.render_ledger(Ledger("catalog", "7", dict(read.entries)))
