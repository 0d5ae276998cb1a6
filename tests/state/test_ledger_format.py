"""The ledger file (JSON Lines): layout, schema, what jq and json.loads see, piecewise reading, clear errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from benchmarks import bench_planner
from reconciler.errors import StateError
from reconciler.model import Ledger, LedgerEntry
from reconciler.state import ledger_file as lines
from reconciler.state.blobs import DirBlobs
from reconciler.state.index import ChangedEntries, LedgerIndex

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


def test_every_line_is_a_json_object_valid_against_the_schema() -> None:
    ledger = sample()
    raw = lines.render_ledger(ledger)
    text = raw.decode()
    assert text.endswith("}\n") and len(text.splitlines()) == 1 + 40  # the header, then one line per source
    header, *sources = [json.loads(line) for line in text.splitlines()]
    validator = jsonschema.Draft202012Validator(schema())
    for line in [header, *sources]:
        validator.validate(line)
    assert header["format_version"] == 1 and header["kind"] == "ledger" and header["count"] == 120
    assert header["outputs"] == [{"bucket": B, "address": "p.large", "fingerprint": "fp-l"},
                                 {"bucket": B, "address": "p.thumb", "fingerprint": "fp-t"},
                                 {"bucket": C, "address": "p.cdn", "fingerprint": "fp-c"}]
    assert header["declaration"] == ledger.declaration and header["generation"] == "7"
    assert sources[1] == {"source_key": "img/001.jpg", "source_etag": "src-1",
                          "entries": [[0, "l/001.webp", "out-l-1", 1], [1, "t/001.webp", "out-t-1", 1],
                                      [2, "c/001.webp", "out-c-1", 1]]}
    assert lines.render_ledger(Ledger("catalog", "7", dict(reversed(list(ledger.entries.items()))),
                                      ledger.declaration)) == raw  # independent of the entries' order


def test_the_lines_flattened_as_the_docs_show_are_the_ledgers_entries() -> None:
    ledger = sample()
    header, *sources = [json.loads(line) for line in lines.render_ledger(ledger).decode().splitlines()]
    flat = {(header["outputs"][o]["bucket"], key): LedgerEntry(
        header["outputs"][o]["bucket"], key, header["outputs"][o]["address"], s["source_key"], s["source_etag"],
        header["outputs"][o]["fingerprint"], etag, header["made_at"][m])
        for s in sources for o, key, etag, m in s["entries"]}
    assert flat == dict(ledger.entries)


def test_the_jq_one_liner_in_the_docs_gives_one_record_per_entry(tmp_path: Path) -> None:
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed")
    doc = (ROOT / "docs" / "ledger-format.md").read_text()
    program = re.search(r"jq -nc '(.+?)' ledger\.jsonl", doc)
    assert program is not None, "docs/ledger-format.md shows a jq one-liner"
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(lines.render_ledger(sample()))
    out = subprocess.run([jq, "-nc", program.group(1), str(path)], capture_output=True, text=True, check=True).stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert {(r["bucket"], r["key"]): LedgerEntry(**r) for r in records} == dict(sample().entries)


@pytest.mark.parametrize("size", [1, 7, 100, 4096, 1 << 22])
def test_round_trip_whole_or_in_pieces_of_any_size(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = sample()
    raw = lines.render_ledger(ledger)
    assert lines.parse_ledger(pieces(raw, size)) == ledger
    monkeypatch.setattr(lines, "_CHUNK", min(size, 1 << 20))  # whole bodies are cut into pieces of this size
    assert lines.parse_ledger(raw) == ledger
    for ledger in (non_ascii(), Ledger("catalog", "0")):
        assert lines.parse_ledger(pieces(lines.render_ledger(ledger), size)) == ledger


def test_empty_ledger_is_its_header_line() -> None:
    empty = Ledger("catalog", "0")
    raw = lines.render_ledger(empty)
    assert raw.count(b"\n") == 1
    jsonschema.validate(json.loads(raw), schema())
    assert lines.parse_ledger(raw) == empty and lines.parse_ledger(pieces(raw, 1)) == empty


def test_white_space_around_a_line_and_blank_lines_are_read() -> None:
    ledger = sample(3)
    spaced = lines.render_ledger(ledger).replace(b"\n", b" \n\n  \t")
    assert lines.parse_ledger(spaced) == ledger


def test_read_entries_are_held_one_group_per_source() -> None:
    loaded = lines.parse_ledger(lines.render_ledger(sample()))
    table = loaded.entries
    assert isinstance(table, LedgerIndex)
    a, b = table[(B, "t/001.webp")], table[(B, "l/001.webp")]
    assert a.source_key is b.source_key and a.bucket is b.bucket
    assert a.fingerprint is table[(B, "t/002.webp")].fingerprint and a.made_at is table[(B, "t/004.webp")].made_at
    assert len(table.all) == len({e.source_key for e in sample().entries.values()})
    assert table.by_key[B]["t/001.webp"] is table.by_key[B]["l/001.webp"]


def test_bench_writes_the_same_bytes_as_the_store(tmp_path: Path) -> None:
    for n in (0, 3, 1200):
        path = tmp_path / f"{n}.json"
        bench_planner.write_ledger(path, n)
        loaded = lines.parse_ledger(path.read_bytes())
        assert len(loaded.entries) == 3 * n and lines.render_ledger(loaded) == path.read_bytes()


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda raw: raw[:len(raw) // 2], "line 20: not valid JSON"),
    (lambda raw: raw[:raw.rindex(b"{")], "holds 117 entries where its header says 120 \\(truncated or edited\\)"),
    (lambda raw: raw.replace(b'"count":120', b'"count":121'), "holds 120 entries where its header says 121"),
    (lambda raw: raw.replace(b'[[0,"l/003.webp"', b'[[9,"l/003.webp"'), "line 5: expected"),
    (lambda raw: raw.replace(b'"src-5",', b'"src-5"', 1), "line 7: not valid JSON"),
    (lambda raw: raw.replace(b'"img/006.jpg"', b'6', 1), "line 8: expected"),
    (lambda raw: raw.replace(b'"entries"', b'"outputs"', 1), "line 2: expected"),
    (lambda raw: raw + b"[1]\n", "line 42: expected"),
    (lambda raw: raw.replace(b"]]}\n", b"]]} x\n", 1), "line 2: not valid JSON \\(Extra data"),
    (lambda raw: raw.replace(b'"format_version":1', b'"format_version":99'),
     "line 1: unsupported ledger format_version 99"),
    (lambda raw: raw.replace(b'"kind":"ledger"', b'"kind":"journal"'), "line 1: expected a ledger"),
    (lambda raw: b"\n" + raw.replace(b'"kind":"ledger"', b'"kind":"journal"'), "line 2: expected a ledger"),
    (lambda raw: raw.replace(b'"made_at":["', b'"made_at":[1,"'), "line 1: made_at must be a list of strings"),
    (lambda raw: raw.replace(b'"address":"p.cdn",', b""), "line 1: outputs must be a list of"),
    (lambda raw: b"\xff" + raw, "not valid UTF-8"),
    (lambda raw: b"", "empty: expected the header line"),
    (lambda raw: json.dumps({"format_version": 1, "kind": "ledger", "entries": []}, indent=1).encode(),
     "line 1: not valid JSON .*expected the header line of a cosrecon ledger"),
])
def test_damaged_files_are_refused_naming_the_line(mangle: object, message: str) -> None:
    raw = lines.render_ledger(sample())
    damaged = mangle(raw)  # type: ignore[operator]
    for data in (damaged, pieces(damaged, 37)):
        with pytest.raises(StateError, match=message) as caught:
            lines.parse_ledger(data, "state/catalog/ledger.jsonl")
        assert str(caught.value).startswith("state/catalog/ledger.jsonl: ")


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


def test_reading_never_holds_the_whole_file() -> None:
    import tracemalloc

    raw = lines.render_ledger(sample(1000))
    tracemalloc.start()
    ledger = lines.parse_ledger(raw[i:i + 4096] for i in range(0, len(raw), 4096))
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(ledger.entries) == 3000
    assert peak - current < len(raw) // 4  # what reading held beyond the ledger read: a block of lines, not the file


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
