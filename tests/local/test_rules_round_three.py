"""Issue 24 (rules round three): every row of the operations table cites a numeric page id; rules the cloud
accepts that validate or the server refused; what the server only approximates or refuses as the pages say; and
the warnings for what depends on bucket settings cosrecon cannot read."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from reconciler.declare import operations as ops
from reconciler.declare.rule_warnings import rule_warnings
from reconciler.local import imaging
from reconciler.local.ruleparse import RuleError, parse_rule
from tests.local.conftest import jpeg, open_image

_PAGE = re.compile(r"/document/(?:product|api)/[0-9]+/[0-9]+")


def _rows() -> list[tuple[str, str]]:
    rows = [(f"imageMogr2/{p.name}", p.doc) for p in ops.MOGR.values()]
    rows += [(f"imageView2 {p.name}", p.doc) for p in ops.VIEW_PARAMS.values()]
    rows += [(f"watermark {p.name}", p.doc) for p in ops.WATERMARK_PARAMS.values()]
    rows += [(f"{op.name} {p.name}", p.doc) for op in ops.AI_OPS.values() for p in op.params.values()]
    return rows


@pytest.mark.parametrize(("row", "doc"), _rows())
def test_every_row_of_the_table_cites_a_numeric_page_id(row: str, doc: str) -> None:
    assert _PAGE.search(doc), f"{row} cites no page id: {doc!r}"


def test_the_rows_whose_page_was_not_read_are_named() -> None:
    cited = {doc for _, doc in _rows()}
    assert ops.UNCONFIRMED_PAGES <= cited | {ops.SLIM}  # listed, so docs/local-server.md can say which


def _gif(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (40, 30), (6 * i, 100, 200)) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def test_iradius_and_rradius_are_not_for_gif() -> None:
    for rule in ("imageMogr2/iradius/10", "imageMogr2/rradius/5"):
        with pytest.raises(RuleError, match="not supported for GIF"):
            imaging.process(_gif(), parse_rule(rule))
    assert imaging.process(jpeg(40, 30), parse_rule("imageMogr2/rradius/5")).data  # fine on a JPEG


def test_cgif_1_keeps_the_default_30_frames() -> None:
    assert getattr(open_image(imaging.process(_gif(40), parse_rule("imageMogr2/cgif/1")).data), "n_frames", 1) == 30


def test_valid_rules_refused_before_now_work() -> None:
    source = jpeg(64, 48)
    for rule in ("imageMogr2/blur/8x60", "imageMogr2/blur/2x0.5", "imageMogr2/rcrop/32x16",
                 "ci-process=AIImageCrop&width=30.5&height=20&ignore-error=1"):
        assert imaging.process(source, parse_rule(rule)).data, rule
    assert open_image(imaging.process(source, parse_rule("imageMogr2/rcrop/32x16")).data).size == (32, 16)


def test_ignore_error_on_an_ai_operation_returns_the_original() -> None:
    noise = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))
    buf = io.BytesIO()
    noise.save(buf, "PNG", compress_level=0)
    big = buf.getvalue()
    assert len(big) > ops.MAX_AI_INPUT_BYTES
    with pytest.raises(RuleError, match="5 MB"):
        imaging.process(big, parse_rule("ci-process=AIEnhanceImage"))
    assert imaging.process(big, parse_rule("ci-process=AIEnhanceImage&ignore-error=1")).data == big


@pytest.mark.parametrize(("rule", "needle"), [
    ("imageMogr2/format/avif", "advanced compression"), ("imageMogr2/format/tpg", "advanced compression"),
    ("imageMogr2/thumbnail/100x|imageMogr2/format/heic", "advanced compression"),
    ("style/thumb-small", "style separators"), ("style/thumb_small", "style separators"),
    ("imageMogr2/quality/80/format/png", "no effect with format/png"),
    ("imageMogr2/iradius/10/format/gif", "not supported for GIF"),
])
def test_plan_and_validate_warn_about_what_depends_on_unreadable_settings(rule: str, needle: str) -> None:
    (warning,) = rule_warnings(rule, "photos-1250000000")
    assert needle in warning


def test_no_warning_for_plain_rules() -> None:
    assert rule_warnings("imageMogr2/thumbnail/100x/format/webp/quality/80", "b-1") == []
    assert rule_warnings("style/thumb.small", "b-1") == [] and rule_warnings("not a rule", "b-1") == []


def test_round_three_rules_through_the_sdk(client: object, bucket: str, server: object) -> None:
    """The same verdicts through cos-python-sdk-v5 against the local server: what the cloud accepts is made (or
    501 where the server does not emulate it), what it refuses is 400 with CI's code."""
    from typing import Any

    from qcloud_cos.cos_exception import CosServiceError

    sdk: Any = client
    sdk.put_object(Bucket=bucket, Key="r3/a.jpg", Body=jpeg(64, 48))
    sdk.put_object(Bucket=bucket, Key="r3/anim.gif", Body=_gif(40))

    def process(key: str, rule: str) -> dict[str, Any]:
        ops_header = '{"rules":[{"fileid":"/r3/out","rule":"%s"}]}' % rule
        reply: dict[str, Any] = sdk.ci_image_process(Bucket=bucket, Key=key, PicOperations=ops_header)[1]
        return dict(reply["ProcessResults"]["Object"])

    def refused(key: str, rule: str) -> tuple[int, str]:
        with pytest.raises(CosServiceError) as info:
            process(key, rule)
        found = re.search(r"<Code>([^<]+)</Code>", info.value.get_origin_msg() or "")
        return info.value.get_status_code(), found.group(1) if found else ""

    for rule in ("imageMogr2/blur/8x60", "ci-process=AIImageCrop&width=30.5&height=20&ignore-error=1",
                 "ci-process=AIEnhanceImage&ignore-error=1", "imageMogr2/rcrop/32x16", "imageView2/1/w/20/format/bmp"):
        assert int(process("r3/a.jpg", rule)["Width"]) > 0, rule
    assert getattr(open_image(sdk.get_object(Bucket=bucket, Key="r3/out")["Body"].get_raw_stream().read()),
                   "format", "") == "BMP"
    process("r3/anim.gif", "imageMogr2/cgif/1")
    assert getattr(open_image(sdk.get_object(Bucket=bucket, Key="r3/out")["Body"].get_raw_stream().read()),
                   "n_frames", 1) == 30
    assert refused("r3/a.jpg", "imageMogr2/egif/10") == (501, "NotImplemented")
    assert refused("r3/a.jpg", "imageView2/0/w/20") == (400, "-60998")
    assert refused("r3/a.jpg", "imageView2/2/w/20/format/avif") == (400, "-60998")
    assert refused("r3/anim.gif", "imageMogr2/iradius/10") == (400, "-60998")
    assert refused("r3/a.jpg", "imageMogr2/blur/51x5") == (400, "-60998")
