"""The attacks of issue 22 on where permission comes from, through the CLI against the local server: a forged owner
index, a forged last-applied declaration in the ledger header, destroy across buckets, an edited saved plan. Only
the declarations given on the command line grant permission; state is data. Each test asserts that every object
outside the declared outputs is byte-identical, the exit code, and a message naming the refused entry."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from reconciler.ops.compose import Backend
from reconciler.local import LocalServer
from reconciler.model import LedgerEntry
from reconciler.plan.planfile import load_plan, plan_to_data

from tests.apply.conftest import OUT, REGION, SRC, declaration, seed
from tests.apply.test_state_attacks import cli, everything, shop_text, write

SOURCES = ["photos/a.jpg", "photos/b.jpg"]
VICTIMS = [(SRC, "important/contract.pdf", b"%PDF signed"), (SRC, "backups/db.sql", b"-- prod dump"),
           (OUT, "backups/db.sql", b"-- the other bucket's dump")]
ZZ = {"address": "photos.zz", "bucket": SRC, "fileid": "/{rel}", "include": ["zz/**"], "exclude": []}


def _applied(server: LocalServer, backend: Backend, tmp_path: Path, *, prune: bool = True) -> Path:
    seed(backend, SOURCES)
    for bucket, key, body in VICTIMS:
        backend.storage(REGION).put_object(bucket, key, body)
    path = write(tmp_path, shop_text(prune=prune))
    code, _, err = cli(server, "apply", "--yes", str(path))
    assert code == 0, err
    return path


def _forge_lines(backend: Backend, address: str = "photos.zz") -> None:
    """One ledger line per victim, as the forged definition would have written it from ``zz/<key>``, with the
    object's current ETag (so the planner sees it unchanged)."""
    decl = declaration()
    ledger = backend.ledgers.read(decl)
    model = next(iter(ledger.entries.values()))
    entries = dict(ledger.entries)
    for bucket, key, _ in VICTIMS:
        found = backend.storage(REGION).head_object(bucket, key)
        assert found is not None
        entries[(bucket, key)] = replace(model, bucket=bucket, key=key, address=address, source_key=f"zz/{key}",
                                         output_etag=found.etag)
    backend.ledgers.write_ledger(decl, replace(ledger, entries=entries))


def _victims_intact(backend: Backend) -> None:
    storage = backend.storage(REGION)
    for bucket, key, body in VICTIMS:
        assert storage.get_object(bucket, key) == body, (bucket, key)


def test_a_forged_owner_index_deletes_nothing(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    path = _applied(server, backend, tmp_path)
    owners = ".cosrecon/_owners/shop.json"
    index = json.loads(backend.storage(REGION).get_object(SRC, owners))
    index["outputs"].append(ZZ | {"bucket": SRC})
    index["outputs"].append(ZZ | {"bucket": OUT})
    backend.storage(REGION).put_object(SRC, owners, json.dumps(index).encode())
    _forge_lines(backend)
    before = everything(backend)

    code, out, err = cli(server, "apply", "--prune", "--yes", str(path))
    assert code == 0, err  # warnings only: the run's usual code
    assert "0 deleted" in out
    assert '3 recorded output(s)' not in err  # one warning per bucket, each naming the entry
    assert 'at "photos.zz" in "src-1250000000"' in err and 'at "photos.zz" in "out-1250000000"' in err
    assert "never deleted" in err
    assert everything(backend) == before
    _victims_intact(backend)


def test_a_forged_last_applied_declaration_deletes_nothing(server: LocalServer, backend: Backend,
                                                           tmp_path: Path) -> None:
    path = _applied(server, backend, tmp_path)
    decl = declaration()
    ledger = backend.ledgers.read(decl)
    document = json.loads(json.dumps(ledger.declaration))
    document["pipelines"]["zz"] = {"source": {"include": ["zz/**"]},
                                   "outputs": {"all": {"rule": "imageMogr2/strip", "fileid": "/{rel}"}}}
    backend.ledgers.write_ledger(decl, replace(ledger, declaration=document))
    _forge_lines(backend, address="zz.all")
    before = everything(backend)

    code, out, err = cli(server, "plan", "--prune", str(path))
    assert code == 0 and "0 to delete" in out
    assert 'fileid: "/{rel}"' in err  # the stanza a reviewer would have to accept, printed from state
    code, out, err = cli(server, "apply", "--prune", "--yes", str(path))
    assert code == 0, err
    assert "0 deleted" in out and 'at "zz.all" in "src-1250000000"' in err
    assert everything(backend) == before
    _victims_intact(backend)


def test_destroy_deletes_only_what_the_declaration_could_have_written_in_its_buckets(
        server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    path = _applied(server, backend, tmp_path, prune=False)
    owners = ".cosrecon/_owners/shop.json"
    index = json.loads(backend.storage(REGION).get_object(SRC, owners))
    index["outputs"].append(ZZ | {"bucket": OUT})
    backend.storage(REGION).put_object(SRC, owners, json.dumps(index).encode())
    _forge_lines(backend)
    # a line naming a declared output's address, in a bucket the declaration does not name
    decl = declaration()
    ledger = backend.ledgers.read(decl)
    thumb = next(e for e in ledger.entries.values() if e.address == "photos.thumb")
    backend.storage(REGION).put_object(OUT, thumb.key, b"prod thumbnail")
    found = backend.storage(REGION).head_object(OUT, thumb.key)
    assert found is not None
    entries = {**dict(ledger.entries), (OUT, thumb.key): replace(thumb, bucket=OUT, output_etag=found.etag)}
    backend.ledgers.write_ledger(decl, replace(ledger, entries=entries))
    before = everything(backend)

    code, out, err = cli(server, "destroy", "shop", "--yes", str(path))
    assert code == 0, err
    assert "Destroy complete: 4 deleted" in out
    after = everything(backend)
    declared = {(SRC, k) for k in ("thumbs/a.webp", "thumbs/b.webp", "png/a.png", "png/b.png")}
    assert set(before) - set(after) == declared
    assert {k: v for k, v in before.items() if k not in declared} == after  # everything else byte-identical
    assert backend.storage(REGION).get_object(OUT, thumb.key) == b"prod thumbnail"
    _victims_intact(backend)
    assert 'at "photos.zz" in "out-1250000000"' in err


def test_an_edited_no_changes_plan_carrying_a_replace_is_refused(server: LocalServer, backend: Backend,
                                                                  tmp_path: Path) -> None:
    path = _applied(server, backend, tmp_path, prune=False)
    reviewed, replacing = tmp_path / "reviewed.json", tmp_path / "replacing.json"
    assert cli(server, "plan", str(path), "--out", str(reviewed))[0] == 0
    assert cli(server, "plan", str(path), "--replace", "shop.photos.png", "--out", str(replacing))[0] == 0
    data = plan_to_data(load_plan(reviewed))
    assert data["calls"] == []  # "No changes", as reviewed
    edit = plan_to_data(load_plan(replacing))
    call = edit["calls"][0]
    data["calls"] = [call]
    data["actions"] += [a for a in edit["actions"] if a["key"] == call["rules"][0]["key"]]
    reviewed.write_text(json.dumps(data))
    before = everything(backend)

    code, out, err = cli(server, "apply", "--plan", str(reviewed), str(path))
    assert code == 1, out
    assert f"replace {SRC}/{call['rules'][0]['key']}" in err and "apply's own --replace does not ask for" in err
    assert everything(backend) == before
