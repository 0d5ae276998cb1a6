"""Issue 14 end to end on the local server through the real SDK: a refused rule does not take the call's good
rules down, output keys with URL-special and CJK characters converge, and a fileid equal to the source key
overwrites the source (fileid rule 4)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reconciler.ops.compose import Backend
from reconciler.apply.contract import ApplyOptions
from reconciler.apply.engine import apply_plan, pic_operations
from reconciler.cli import main
from reconciler.local import LocalServer
from reconciler.model import ActionKind
from reconciler.render.text import render_text
from tests.apply.conftest import SRC, declaration, keys, make_plan, process_calls, seed

GOOD = {f"g{i}": {"rule": f"imageMogr2/thumbnail/{16 + i}x", "fileid": f"/good{i}/{{name}}"} for i in range(4)}
REFUSED = {"bad": {"rule": "watermark/1/image/aHR0cA", "fileid": "/bad/{name}"}}  # valid for CI, not emulated locally


def test_one_refused_rule_does_not_take_four_good_ones_down(server: LocalServer, backend: Backend) -> None:
    seed(backend, ["photos/a.jpg"])
    decl = declaration(outputs={**GOOD, **REFUSED})
    plan = make_plan([decl], backend)
    assert plan.calls == 1
    report = apply_plan(plan, [decl], backend, ApplyOptions(max_qps=0))
    assert keys(backend, SRC, "good") == {f"good{i}/a.jpg" for i in range(4)}
    # bisected: at most 3 calls isolate the refused rule of five, plus one making the others (not 5 one by one)
    assert report.created == 4 and report.calls == process_calls(server) == 4
    (failure,) = report.failures
    assert failure.address == "photos.bad" and failure.key == "bad/a.jpg" and failure.code == "NotImplemented"
    assert "'watermark/1/image/aHR0cA'" in failure.message and "not emulated by the local server" in failure.message
    assert "3 extra call(s)" in failure.message
    again = make_plan([decl], backend)
    assert [(a.action, a.address) for s in again.sets for a in s.actions
            if a.action is not ActionKind.UNCHANGED] == [(ActionKind.CREATE, "photos.bad")]
    changed = {name: {**spec, "rule": spec["rule"] + "/strip"} for name, spec in GOOD.items()}
    decl = declaration(outputs={**changed, **REFUSED})
    report = apply_plan(make_plan([decl], backend), [decl], backend, ApplyOptions(max_qps=0))
    assert (report.replaced, report.created, report.failed) == (4, 0, 1)  # the re-issued rules keep their reason


def test_cli_names_the_refusal_and_does_not_suggest_a_retry(server: LocalServer, backend: Backend,
                                                           tmp_path: Path) -> None:
    seed(backend, ["photos/a.jpg"])
    path = tmp_path / "shop.yaml"
    path.write_text(f"""version: 1
name: shop
region: ap-guangzhou
bucket: {SRC}
pipelines:
  photos:
    source: {{include: ["photos/*.jpg"]}}
    outputs:
      good: {{rule: "imageMogr2/thumbnail/20x", fileid: "/good/{{name}}"}}
      bad: {{rule: "style/nostyle", fileid: "/bad/{{name}}"}}
""")
    env = {"TENCENTCLOUD_SECRET_ID": server.secret_id, "TENCENTCLOUD_SECRET_KEY": server.secret_key}
    result = CliRunner().invoke(main, ["apply", str(path), "--yes", "--max-qps", "0", "--endpoint", server.endpoint],
                                env=env)
    assert result.exit_code == 1
    assert "bad/a.jpg" in result.stdout and "-60967" in result.stdout and "no image style" in result.stdout
    assert "refused by Cloud Infinite" in result.stderr and "run apply again" not in result.stderr
    assert keys(backend, SRC, "good") == {"good/a.jpg"}


def test_keys_with_url_special_and_cjk_characters_converge(server: LocalServer, backend: Backend) -> None:
    sources = ["photos/100% off+sale #1?.jpg", "photos/中文 图片.jpg", "photos/a%2541.jpg"]
    seed(backend, sources)
    decl = declaration(outputs={"t": {"rule": "imageMogr2/thumbnail/20x", "fileid": "small/{stem}+x.jpg"},
                                "a": {"rule": "imageMogr2/format/png", "fileid": "/png/{stem} ?#%.png"}},
                       include=("photos/*.jpg",))
    plan = make_plan([decl], backend)
    report = apply_plan(plan, [decl], backend, ApplyOptions(max_qps=0))
    assert report.failures == () and report.created == 6
    assert keys(backend, SRC, "photos/small/") == {"photos/small/100% off+sale #1?+x.jpg",
                                                   "photos/small/中文 图片+x.jpg", "photos/small/a%2541+x.jpg"}
    assert "png/a%2541 ?#%.png" in keys(backend, SRC, "png/")
    assert not make_plan([decl], backend).has_changes


def test_fileid_equal_to_the_source_key_overwrites_the_source(server: LocalServer, backend: Backend) -> None:
    seed(backend, ["photos/deep/a.jpg"])
    decl = declaration(outputs={"same": {"rule": "imageMogr2/thumbnail/16x", "fileid": "{key}",
                                         "overwrite_source": True}}, include=("photos/deep/*.jpg",))
    plan = make_plan([decl], backend)
    (sent,) = json.loads(pic_operations(plan.sets[0].calls[0]))["rules"]
    assert sent["fileid"] == "/photos/deep/a.jpg"  # "/" + key: the source under both readings of the fileid rules
    report = apply_plan(plan, [decl], backend, ApplyOptions(max_qps=0))
    assert report.failures == () and keys(backend, SRC, "photos/") == {"photos/deep/a.jpg"}  # not photos/deep/photos/deep/a.jpg
    assert not make_plan([decl], backend).has_changes  # the fingerprint is the declared one: nothing is remade


def test_redefining_a_style_replaces_exactly_the_outputs_that_use_it(server: LocalServer, backend: Backend) -> None:
    from tests.local.conftest import make_client, open_image

    client = make_client(server)
    client.ci_put_image_style(Bucket=SRC, Request={"StyleName": "small", "StyleBody": "imageMogr2/thumbnail/20x"})
    seed(backend, ["photos/a.jpg", "photos/b.jpg"])
    decl = declaration(outputs={"styled": {"rule": "style/small", "fileid": "/s/{name}"},
                                "plain": {"rule": "imageMogr2/thumbnail/24x", "fileid": "/p/{name}"}},
                       include=("photos/*.jpg",))
    assert apply_plan(make_plan([decl], backend), [decl], backend, ApplyOptions(max_qps=0)).created == 4
    assert not make_plan([decl], backend).has_changes
    assert open_image(backend.storage("ap-guangzhou").get_object(SRC, "s/a.jpg")).size == (20, 15)
    client.ci_put_image_style(Bucket=SRC, Request={"StyleName": "small", "StyleBody": "imageMogr2/thumbnail/16x"})
    plan = make_plan([decl], backend)
    changed = sorted((a.action, a.address, a.key, a.detail) for s in plan.sets for a in s.actions
                     if a.action is not ActionKind.UNCHANGED)
    assert changed == [(ActionKind.REPLACE, "photos.styled", "s/a.jpg", "style small redefined"),
                       (ActionKind.REPLACE, "photos.styled", "s/b.jpg", "style small redefined")]
    assert "(from photos/a.jpg; rule-changed: style small redefined)" in render_text(plan)
    assert apply_plan(plan, [decl], backend, ApplyOptions(max_qps=0)).replaced == 2
    assert open_image(backend.storage("ap-guangzhou").get_object(SRC, "s/a.jpg")).size == (16, 12)
    assert not make_plan([decl], backend).has_changes
