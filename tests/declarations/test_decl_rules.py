"""The CI rule grammar: valid forms accepted, typos rejected with the bad part named; normalise; fingerprint."""

from __future__ import annotations

import re

import pytest

from reconciler.declare.rules import RuleError, fingerprint, normalise_rule, parse_rule

VALID = [
    "imageMogr2/thumbnail/!50p", "imageMogr2/thumbnail/!50px", "imageMogr2/thumbnail/!x50p",
    "imageMogr2/thumbnail/200x", "imageMogr2/thumbnail/x200", "imageMogr2/thumbnail/200x300",
    "imageMogr2/thumbnail/200x300>", "imageMogr2/thumbnail/200x300<", "imageMogr2/thumbnail/!200x300r",
    "imageMogr2/thumbnail/200x300!", "imageMogr2/thumbnail/40000@",
    "imageMogr2/cut/100x100x10x20", "imageMogr2/crop/300x400/gravity/center", "imageMogr2/crop/x300",
    "imageMogr2/iradius/20", "imageMogr2/rradius/10", "imageMogr2/scrop/100x100", "imageMogr2/rcrop/100x",
    "imageMogr2/rotate/0", "imageMogr2/rotate/360", "imageMogr2/auto-orient", "imageMogr2/flip/horizontal",
    "imageMogr2/format/jpeg", "imageMogr2/format/apng", "imageMogr2/format/heic", "imageMogr2/format/tpg",
    "imageMogr2/interlace/1", "imageMogr2/quality/85", "imageMogr2/quality/85!", "imageMogr2/rquality/60",
    "imageMogr2/lquality/40", "imageMogr2/strip", "imageMogr2/blur/8x5", "imageMogr2/bright/-20",
    "imageMogr2/contrast/30", "imageMogr2/sharpen/70", "imageMogr2/grayscale/1", "imageMogr2/size-limit/15k!",
    "imageMogr2/size-limit/1m", "imageMogr2/ignore-error/1", "imageMogr2/thumbnail/200x/format/webp/strip",
    "imageView2/1/w/300", "imageView2/5/w/200/h/200/format/webp/q/80",
    "watermark/1/image/aHR0cDovL2V4YW1wbGUuY29tL2xvZ28ucG5n/gravity/southeast",
    "watermark/2/text/Q09T/fontsize/24", "watermark/3/type/3/text/Q09T",
    "style/thumb_small", "imageSlim",
    "ci-process=AISuperResolution", "ci-process=AISuperResolution&magnify=2",
    "ci-process=AISuperResolution&magnify=4", "ci-process=AIImageColoring",
    "ci-process=AIEnhanceImage&denoise=5&sharpen=0", "ci-process=AIImageCrop&width=10&height=20&fixed=0",
    "ci-process=AIPicMatting&center-layout=1&padding-layout=20x10", "ci-process=AIPortraitMatting",
    "ci-process=GoodsMatting", "ci-process=ImageRepair&MaskPic=aHR0cA", "ci-process=ImageRepair&MaskPoly=W1tdXQ",
    "imageMogr2/thumbnail/200x|imageMogr2/format/webp", "ci-process=AIImageColoring|imageMogr2/format/png",
    "|".join(["imageMogr2/strip"] * 10),
    "  imageMogr2 / thumbnail / 200x /  ",
    # issue 14: forms the cloud documents that validate or the server used to refuse
    "imageMogr2/thumbnail/200x200/pad/1/color/I0ZGMDAwMA", "imageMogr2/thumbnail/!50.5p", "imageMogr2/quality/0",
    "imageMogr2/gravity/center/crop/300x200", "imageMogr2/cgif/10", "imageMogr2/minisize/1",
    "imageView2/format/png", "imageView2/2/w/100/interlace/1", "watermark/1/image/aHR0cA", "imageSlim",
    # issue 24: the limits page 460/36620 (2026-01-12): a width or height over 10,000 is processed as 10,000
    "imageMogr2/thumbnail/10000x", "imageMogr2/thumbnail/12000x", "imageMogr2/scrop/50000x50000",
    "imageMogr2/crop/12000x", "imageView2/2/w/12000", "ci-process=AIImageCrop&width=300.5&height=200.25",
    "imageMogr2/blur/8x60", "imageMogr2/blur/2x0.5", "ci-process=AIEnhanceImage&ignore-error=1",
    "ci-process=AIImageCrop&width=10&height=20&ignore-error=1", "imageMogr2/egif/10", "imageMogr2/cgif/1",
    "imageMogr2/rcrop/100x50",
]

INVALID = [
    ("", "empty rule"),
    ("   ", "empty rule"),
    ("|", "empty rule"),
    ("imageMogr/thumbnail/200x", "unknown processor 'imageMogr' (did you mean 'imageMogr2'?)"),
    ("imagemogr2/thumbnail/200x", "unknown processor 'imagemogr2' (did you mean 'imageMogr2'?)"),
    ("thumbnail/200x", "unknown processor 'thumbnail'"),
    ("imageMogr2/thumbnail/200xx", "malformed thumbnail geometry '200xx'"),
    ("imageMogr2/thumbnail/abc", "malformed thumbnail geometry 'abc'"),
    ("imageMogr2/thumbnail/50p", "malformed thumbnail geometry '50p'"),
    ("imageMogr2/thumbnail", "thumbnail needs a value"),
    ("imageMogr2/thumbnial/200x", "unknown imageMogr2 parameter 'thumbnial' (did you mean 'thumbnail'?)"),
    ("imageMogr2", "imageMogr2 has no parameters"),
    ("imageMogr2/format/wepb", "malformed format value 'wepb'"),
    ("imageMogr2/rotate/400", "malformed rotate value '400'"),
    ("imageMogr2/crop/300x400/gravity/middle", "malformed gravity value 'middle'"),
    ("imageMogr2/quality/101", "malformed quality value '101'"),
    ("imageView2/7/w/100", "imageView2 needs a mode 1-5"),
    ("imageView2/0/w/100", "imageView2 needs a mode 1-5"),  # mode 0 is another vendor's (VIEW documents 1-5)
    ("imageView2/2/w/100/format/avif", "malformed imageView2 format"),  # VIEW: jpg, bmp, gif, png, webp
    ("imageMogr2/blur/51x5", "malformed blur"), ("imageMogr2/blur/5x0", "malformed blur"),
    ("imageView2/1/width/100", "unknown imageView2 parameter 'width'"),
    ("imageView2/1/w", "has no value"),
    ("watermark/4/text/abc", "watermark needs a type"),
    ("watermark/2/text/Q09T/gravity/top", "malformed watermark gravity 'top'"),
    ("watermark/2/fontsize/20", "watermark/2 needs text"),
    ("imageMogr2/rotate/²", "malformed rotate value '²'"),
    ("imageMogr2/rotate/" + "9" * 5000, "malformed rotate value '999"),
    ("imageMogr2/scrop/0x0", "malformed scrop value '0x0'"),
    ("imageMogr2/crop/0x0", "malformed crop value '0x0'"),
    ("imageMogr2/cut/0x0x0x0", "malformed cut value '0x0x0x0'"),
    ("ci-process=AIImageCrop&width=50000&height=50000", "AIImageCrop height='50000' is not valid"),
    ("ci-process=GoodsMatting&padding-layout=20000x20000", "padding-layout='20000x20000' is not valid"),
    ("ci-process=GoodsMatting&padding-layout=abc", "padding-layout='abc' is not valid"),
    ("ci-process=AISuperResolution&magnify=1", "magnify='1' is not valid (expected 2 or 4)"),
    ("imageView2/2/format/png", "imageView2/2 needs w or h"),
    ("style/", "style/<name> takes one style name"),
    ("style/a|imageMogr2/strip", "style/<name> stands alone"),
    ("ci-process=AISuperResoluton", "unknown AI operation 'AISuperResoluton' (did you mean 'AISuperResolution'?)"),
    ("ci-process=SuperResolution", "unknown AI operation 'SuperResolution'"),
    ("ci-process=AISuperResolution&magnify=3", "magnify='3' is not valid"),
    ("ci-process=AISuperResolution&magnfy=2", "unknown parameter 'magnfy' for AISuperResolution (did you mean"),
    ("ci-process=AIImageColoring&x=1", "AIImageColoring takes no parameters"),
    ("ci-process=AIEnhanceImage&denoise=9", "denoise='9' is not valid"),
    ("ci-process=AIImageCrop&width=100", "AIImageCrop needs height"),
    ("ci-process=ImageRepair", "ImageRepair needs MaskPic or MaskPoly"),
    ("ci-process=AIImageColoring&magnify", "is not name=value"),
    ("ci-process=AILicenseRec", "answers with JSON, not an image"),
    ("imageMogr2/format/webp|", "operation 2 is empty"),
    ("imageMogr2/strip|imageMogr2/thumbnail/0xx", "operation 2 (imageMogr2/thumbnail/0xx): malformed thumbnail"),
    ("|".join(["imageMogr2/strip"] * 11), "at most 10"),
]


@pytest.mark.parametrize("rule", VALID)
def test_valid_rules_parse(rule: str) -> None:
    parsed = parse_rule(rule)
    assert parsed.operations and parsed.text == normalise_rule(rule)


@pytest.mark.parametrize(("rule", "message"), INVALID)
def test_invalid_rules_name_the_bad_part(rule: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(rule)
    assert message in str(info.value)


def test_parsed_structure() -> None:
    parsed = parse_rule("imageMogr2/thumbnail/200x/strip/format/webp|ci-process=AISuperResolution&magnify=2")
    first, second = parsed.operations
    assert first.processor == "imageMogr2"
    assert first.params == (("thumbnail", "200x"), ("strip", ""), ("format", "webp"))
    assert (second.processor, second.mode, second.params) == ("ci-process", "AISuperResolution", (("magnify", "2"),))


def test_normalise_changes_only_with_meaning() -> None:
    base = "imageMogr2/thumbnail/200x/format/webp"
    assert normalise_rule(" imageMogr2/thumbnail/200x/format/webp/ ") == base
    assert normalise_rule("imageMogr2 / thumbnail/200x /format/webp") == base
    assert normalise_rule("imageMogr2/thumbnail/300x/format/webp") != base
    assert normalise_rule("a/b | c/d") == "a/b|c/d"
    assert normalise_rule("ci-process=AIEnhanceImage&sharpen=2&denoise=3") == normalise_rule(
        "ci-process=AIEnhanceImage&denoise=3&sharpen=2")
    # order of pipe-joined operations matters
    assert normalise_rule("a|b") != normalise_rule("b|a")


def test_fingerprint_is_short_stable_hex_of_rule_bucket_and_template() -> None:
    fp = fingerprint("imageMogr2/thumbnail/200x", "shop-1250000000", "/t/{name}")
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fp == fingerprint(" imageMogr2/thumbnail/200x/ ", "shop-1250000000", "/t/{name}")
    assert fp == "3b6d9d91de9ea346"  # pinned: ledgers store it, so it must never drift
    others = {
        fingerprint("imageMogr2/thumbnail/300x", "shop-1250000000", "/t/{name}"),
        fingerprint("imageMogr2/thumbnail/200x", "cdn-1250000000", "/t/{name}"),
        fingerprint("imageMogr2/thumbnail/200x", "shop-1250000000", "/t/{stem}.jpg"),
    }
    assert fp not in others and len(others) == 3


def test_validate_says_which_key_a_fileid_equal_to_the_source_key_writes() -> None:
    from reconciler.declare.checks import check_declaration
    from reconciler.declare.load import build_declaration

    data = {"version": 1, "name": "s", "region": "ap-guangzhou", "bucket": "b-1250000000",
            "pipelines": {"p": {"source": {"include": ["p9/*.jpg"]},
                                "outputs": {"same": {"rule": "imageMogr2/strip", "fileid": "{key}"}}}}}
    (finding,) = check_declaration(build_declaration(data, "s.yaml"))
    assert "Cloud Infinite writes 'p9/sample.jpg' itself" in finding[1] and "overwrite_source: true" in finding[1]
    data["pipelines"]["p"]["outputs"]["same"]["overwrite_source"] = True  # type: ignore[index]
    assert check_declaration(build_declaration(data, "s.yaml")) == []
