"""The attacks of issue 12 on cosrecon's own state, against the local server through the real SDK: a forged ledger
line, a ledger copied from another set, one set name in two repositories, hand-edited saved plans, another set
adopting or overwriting outputs it does not own. Each asserts the outcome: every object apply must not touch is
byte-identical, the exit code, and a message naming the cause."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.apply.engine import apply_plan
from reconciler.cli import main
from reconciler.errors import StateError
from reconciler.local import LocalServer
from reconciler.model import ActionKind, LedgerEntry, Plan
from reconciler.plan.orphans import UNDECLARED
from reconciler.plan.planfile import load_plan, plan_to_data

from tests.apply.conftest import OUT, REGION, SRC, declaration, jpeg, make_plan, seed

SOURCES = ["photos/a.jpg", "photos/b.jpg"]
SHOP = """\
version: 1
name: {name}
region: ap-guangzhou
bucket: src-1250000000
prune: {prune}
pipelines:
  photos:
    source:
      include: ["photos/**/*.jpg"]
    outputs:
{outputs}"""
THUMB = """      thumb:
        rule: imageMogr2/thumbnail/32x/format/webp
        fileid: /thumbs/{reldir}/{stem}.webp
"""
PNG = """      png:
        rule: imageMogr2/format/png
        fileid: /{prefix}/{{reldir}}/{{stem}}.png
"""


def shop_text(name: str = "shop", *, prune: bool = False, png: str = "png") -> str:
    return SHOP.format(name=name, prune="true" if prune else "false", outputs=THUMB + PNG.format(prefix=png))


def write(folder: Path, text: str, name: str = "shop.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def everything(backend: Backend, state: bool = False) -> dict[tuple[str, str], bytes]:
    """Every object of both buckets (with ``state``: the ledgers, indexes and locks under .cosrecon/ too)."""
    storage = backend.storage(REGION)
    return {(b, o.key): storage.get_object(b, o.key) for b in (SRC, OUT) for o in storage.list_objects(b)
            if state or not o.key.startswith(".cosrecon/")}


def cli(server: LocalServer, *args: str) -> tuple[int, str, str]:
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    result = CliRunner().invoke(main, [*args, "--endpoint", server.endpoint], env=env)
    return result.exit_code, result.stdout, result.stderr


def forged(backend: Backend, entry: LedgerEntry, bucket: str, key: str, address: str) -> LedgerEntry:
    """A ledger line naming ``bucket/key`` with the object's current ETag (so the planner sees it unchanged)."""
    found = backend.storage(REGION).head_object(bucket, key)
    assert found is not None
    return replace(entry, bucket=bucket, key=key, address=address, output_etag=found.etag)


# --- ledgers ---------------------------------------------------------------------------------------------------


def test_a_forged_ledger_line_deletes_nothing_it_names(server: LocalServer, backend: Backend) -> None:
    seed(backend, SOURCES)
    storage = backend.storage(REGION)
    storage.put_object(SRC, "important/contract.pdf", b"%PDF signed")
    storage.put_object(OUT, "thumbs/a.webp", b"another bucket's object")
    other = declaration("other", outputs={"big": {"rule": "imageMogr2/format/png", "fileid": "/big/{stem}.png"}})
    apply_plan(make_plan([other], backend), [other], backend)  # another set's ledger under .cosrecon/other/
    decl = declaration(prune=True)
    apply_plan(make_plan([decl], backend), [decl], backend)
    ledger = backend.ledgers.read(decl)
    model = next(iter(ledger.entries.values()))
    entries = dict(ledger.entries)
    for bucket, key, address in [(SRC, "photos/a.jpg", "photos.gone"), (SRC, "important/contract.pdf", "photos.png"),
                                 (OUT, "thumbs/a.webp", "photos.thumb"), (SRC, ".cosrecon/other/ledger.jsonl", "x.y")]:
        entries[(bucket, key)] = forged(backend, model, bucket, key, address)
    backend.ledgers.write_ledger(decl, replace(ledger, entries=entries))
    before = everything(backend, state=True)

    plan = make_plan([decl], backend, prune=True)
    assert plan.count(ActionKind.DELETE) == 0  # the planner grants nothing from the ledger: orphans, kept
    assert sum(a.detail == UNDECLARED for a in plan.sets[0].actions) == 4
    # the apply guard refuses them too, were a plan (edited, or a planner bug) to carry them as deletes
    forced = [replace(a, action=ActionKind.DELETE) if a.detail == UNDECLARED else a for a in plan.sets[0].actions]
    plan = Plan((replace(plan.sets[0], actions=tuple(forced)),))
    report = apply_plan(plan, [decl], backend)

    after = everything(backend, state=True)
    assert {k: v for k, v in after.items() if "/shop/" not in k[1]} == \
        {k: v for k, v in before.items() if "/shop/" not in k[1]}  # the source, contract, other bucket and ledger
    assert report.deleted == 0
    assert report.warnings == ("set 'shop': the ledger records 4 key(s) that no output or retired: entry of its "
                               "declaration could have written; nothing done with them",)
    assert all("never deleted" in s.reason for s in report.skipped)


def test_a_ledger_copied_from_another_set_is_refused(server: LocalServer, backend: Backend) -> None:
    seed(backend, SOURCES)
    gallery = declaration("gallery", outputs={"big": {"rule": "imageMogr2/format/png", "fileid": "/big/{stem}.png"}})
    apply_plan(make_plan([gallery], backend), [gallery], backend)
    storage = backend.storage(REGION)
    storage.put_object(SRC, ".cosrecon/shop/ledger.jsonl", storage.get_object(SRC, ".cosrecon/gallery/ledger.jsonl"))
    before = everything(backend)
    decl = declaration(prune=True)
    with pytest.raises(StateError, match="its ledger names set 'gallery'"):
        apply_plan(make_plan([decl], backend, prune=True), [decl], backend)
    assert everything(backend) == before


def test_a_ledger_entry_owned_by_another_set_is_not_deleted(server: LocalServer, backend: Backend) -> None:
    """The copied lines alone (header kept): gallery's index says it owns them, so shop's prune leaves them."""
    seed(backend, SOURCES)
    gallery = declaration("gallery", outputs={"png": {"rule": "imageMogr2/format/png", "fileid": "/png/{stem}.png"}})
    apply_plan(make_plan([gallery], backend), [gallery], backend)
    shop = declaration(prune=True)
    apply_plan(make_plan([shop], backend), [shop], backend)
    ledger = backend.ledgers.read(shop)
    stolen = {(e.bucket, e.key): replace(e, address="photos.png") for e in backend.ledgers.read(gallery).entries.values()}
    backend.ledgers.write_ledger(shop, replace(ledger, entries={**dict(ledger.entries), **stolen}))
    before = everything(backend)
    report = apply_plan(make_plan([shop], backend, prune=True), [shop], backend)
    assert everything(backend) == before and report.deleted == 0
    assert {s.key for s in report.skipped} == {k for _, k in stolen}
    assert all("an output of set 'gallery'" in s.reason for s in report.skipped), report.skipped


@pytest.mark.parametrize("recorded_in", ["owner index and ledger header", "ledger header only"])
def test_one_set_name_in_two_repositories_is_refused_before_anything_is_deleted(server: LocalServer,
                                                                                 backend: Backend,
                                                                                 tmp_path: Path,
                                                                                 recorded_in: str) -> None:
    seed(backend, SOURCES)
    repos = {}
    for team in ("team-a", "team-b"):
        (tmp_path / team / ".git").mkdir(parents=True)
        (tmp_path / team / ".git" / "config").write_text(f'[remote "origin"]\n\turl = git@github.com:{team}/site.git\n')
        repos[team] = tmp_path / team
    a = write(repos["team-a"] / "sets", shop_text())
    b = write(repos["team-b"] / "sets", shop_text(prune=True, png="other"))
    code, out, err = cli(server, "apply", "--yes", str(a))
    assert code == 0, err
    assert backend.ledgers.read(declaration()).identity == "github.com/team-a/site"
    if recorded_in == "ledger header only":
        backend.storage(REGION).delete_object(SRC, ".cosrecon/_owners/shop.json")
    before = everything(backend)
    code, out, err = cli(server, "apply", "--yes", "--prune", str(b))
    assert code == 1
    assert "two declarations claim this set" in err
    assert "github.com/team-a/site" in err and "github.com/team-b/site" in err
    assert everything(backend) == before


def test_another_set_cannot_adopt_or_overwrite_outputs_it_does_not_own(server: LocalServer, backend: Backend) -> None:
    """No ping-pong: rival declares gallery's keys; adopt takes none, a replace-unmanaged apply writes none."""
    from reconciler.apply.adopt import adopt

    seed(backend, SOURCES)
    outputs = {"png": {"rule": "imageMogr2/format/png", "fileid": "/png/{stem}.png"}}
    gallery = declaration("gallery", outputs=outputs)
    apply_plan(make_plan([gallery], backend), [gallery], backend)
    rival = declaration("rival", outputs={"png": {"rule": "imageMogr2/format/jpg", "fileid": "/png/{stem}.png"}})
    before = everything(backend)
    adopted = adopt(make_plan([rival], backend, replace_unmanaged=True), [rival], backend)
    assert adopted.adopted == 0 and all("an output of set 'gallery'" in s.reason for s in adopted.skipped)
    report = apply_plan(make_plan([rival], backend, replace_unmanaged=True), [rival], backend)
    assert report.calls == 0 and report.replaced == 0
    assert all("an output of set 'gallery'" in s.reason for s in report.skipped)
    assert everything(backend) == before
    assert not backend.ledgers.read(rival).entries


# --- saved plans -----------------------------------------------------------------------------------------------


def _first_rule(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first call's first rule and the create action naming the same output (edited together, consistently)."""
    rule = data["calls"][0]["rules"][0]
    action = next(a for a in data["actions"] if (a["bucket"], a["key"]) == (rule["bucket"], rule["key"]))
    return rule, action


def _edit_key(data: dict[str, Any]) -> None:
    rule, action = _first_rule(data)
    rule["key"] = action["key"] = "photos/b.jpg"  # a thumbnail over a source original
    rule["fileid"] = "/photos/b.jpg"


def _edit_bucket(data: dict[str, Any]) -> None:
    rule, action = _first_rule(data)
    rule["bucket"] = action["bucket"] = OUT


def _edit_rule(data: dict[str, Any]) -> None:
    data["calls"][0]["rules"][0]["rule"] = "imageMogr2/thumbnail/8x"  # under the declared fingerprint


def _add_delete(data: dict[str, Any]) -> None:
    data["actions"].append({"set": "shop", "action": "delete", "address": "photos.thumb", "bucket": SRC,
                            "key": "photos/a.jpg", "source": "photos/a.jpg", "reason": "not-declared", "detail": ""})
    data["summary"]["delete"] = data["sets"][0]["summary"]["delete"] = 1


def _flip_prune(data: dict[str, Any]) -> None:
    data["sets"][0]["prune"] = True
    _add_delete(data)


@pytest.mark.parametrize("edit, cause", [
    (_edit_key, "photos/b.jpg"),
    (_edit_bucket, OUT),
    (_edit_rule, "imageMogr2/thumbnail/8x"),
    (_add_delete, "delete src-1250000000/photos/a.jpg"),
    (_flip_prune, "prune true"),
])
def test_a_hand_edited_saved_plan_is_refused(server: LocalServer, backend: Backend, tmp_path: Path, edit: Any,
                                             cause: str) -> None:
    seed(backend, SOURCES)
    path = write(tmp_path, shop_text())
    code, out, err = cli(server, "plan", str(path), "--out", str(tmp_path / "plan.json"))
    assert code == 0, err
    data = plan_to_data(load_plan(tmp_path / "plan.json"))
    edit(data)
    (tmp_path / "plan.json").write_text(json.dumps(data))
    before = everything(backend)
    code, out, err = cli(server, "apply", "--plan", str(tmp_path / "plan.json"), str(path))
    assert code == 1, out
    assert "stale or was edited" in err and cause in err
    assert everything(backend) == before
    assert not backend.ledgers.read(declaration()).entries


def test_an_unedited_saved_plan_still_applies(server: LocalServer, backend: Backend, tmp_path: Path) -> None:
    seed(backend, SOURCES)
    path = write(tmp_path, shop_text())
    assert cli(server, "plan", str(path), "--out", str(tmp_path / "plan.json"))[0] == 0
    seed(backend, ["photos/c.jpg"])  # new since the plan: not in it, so not done
    code, out, err = cli(server, "apply", "--plan", str(tmp_path / "plan.json"), str(path))
    assert code == 0, err
    assert "4 created" in out


# --- silent resets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reset", ["deleted", "emptied"])
def test_a_lost_ledger_with_standing_outputs_is_a_warning_naming_adopt(server: LocalServer, backend: Backend,
                                                                       tmp_path: Path, reset: str) -> None:
    seed(backend, SOURCES)
    path = write(tmp_path, shop_text())
    assert cli(server, "apply", "--yes", str(path))[0] == 0
    decl = declaration()
    if reset == "deleted":
        backend.storage(REGION).delete_object(SRC, ".cosrecon/shop/ledger.jsonl")
    else:
        backend.ledgers.write_ledger(decl, replace(backend.ledgers.read(decl), entries={}))
    code, out, err = cli(server, "plan", str(path))
    assert code == 0 and "4 conflict" in out
    assert "Warning: set 'shop' has" in err and "cosrecon adopt" in err
    code, out, err = cli(server, "adopt", str(path), "--yes")
    assert code == 0, err
    code, out, err = cli(server, "plan", str(path))
    assert "Warning" not in err


def test_plan_names_the_keys_another_set_owns_and_the_two_repositories(server: LocalServer, backend: Backend,
                                                                       tmp_path: Path) -> None:
    seed(backend, SOURCES)
    gallery = write(tmp_path / "g", shop_text("gallery"))
    rival = write(tmp_path / "r", shop_text("rival"))
    assert cli(server, "apply", "--yes", str(gallery))[0] == 0
    code, out, err = cli(server, "plan", "--replace-unmanaged", str(rival))
    assert code == 0 and "4 planned change(s) are at keys set 'gallery'" in err
    (tmp_path / "g" / ".git").mkdir()
    (tmp_path / "g" / ".git" / "config").write_text('[remote "origin"]\n\turl = https://example.com/a/site\n')
    (tmp_path / "h" / ".git").mkdir(parents=True)
    (tmp_path / "h" / ".git" / "config").write_text('[remote "origin"]\n\turl = https://example.com/b/site\n')
    assert cli(server, "apply", "--yes", str(gallery))[0] == 0  # records its repository
    other = write(tmp_path / "h", shop_text("gallery"))
    code, out, err = cli(server, "plan", str(other))
    assert code == 1 and "two declarations claim this set" in err and "example.com/a/site" in err


def test_plan_reports_ledger_entries_the_set_could_not_have_written(server: LocalServer, backend: Backend,
                                                                    tmp_path: Path) -> None:
    seed(backend, SOURCES)
    backend.storage(REGION).put_object(SRC, "important/contract.pdf", b"%PDF signed")
    path = write(tmp_path, shop_text(prune=True))
    assert cli(server, "apply", "--yes", str(path))[0] == 0
    decl = declaration()
    ledger = backend.ledgers.read(decl)
    model = next(iter(ledger.entries.values()))
    forged_line = forged(backend, model, SRC, "important/contract.pdf", "photos.png")
    backend.ledgers.write_ledger(decl, replace(ledger, entries={**dict(ledger.entries),
                                                                 (SRC, "important/contract.pdf"): forged_line}))
    code, out, err = cli(server, "plan", str(path))
    assert code == 0 and "1 orphaned" in out
    assert "no output or retired: entry of the declaration could have written them, so never deleted" in out
    assert '1 recorded output(s) at "photos.png" in "src-1250000000"' in err and "never deleted" in err
    code, out, err = cli(server, "apply", "--yes", str(path))
    assert code == 0 and "0 deleted" in out
    assert backend.storage(REGION).get_object(SRC, "important/contract.pdf") == b"%PDF signed"


def test_the_repository_identity_is_the_origin_remote_also_from_a_worktree(tmp_path: Path) -> None:
    import subprocess

    from reconciler.plan.ownership import repository_identity

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "git@github.com:Team-A/Site.git"], check=True)
    write(repo / "sets", shop_text())
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "worktree", "add", "-q", str(tmp_path / "wt")], check=True)
    assert repository_identity(str(repo / "sets" / "shop.yaml")) == "github.com/team-a/site"
    assert repository_identity(str(tmp_path / "wt" / "sets" / "shop.yaml")) == "github.com/team-a/site"
    assert repository_identity(str(tmp_path / "nowhere.yaml")) == ""
