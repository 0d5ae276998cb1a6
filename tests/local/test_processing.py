"""Cloud Infinite processing through the real SDK: fileid semantics (the COS docs' examples), outputs opened
with Pillow, UploadResult fields and ETags, the three processing methods, and every error path."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from tests.local.conftest import jpeg, make_client, open_image


def _process(client: Any, bucket: str, key: str, rules: list[dict[str, str]], pic_info: int = 0) -> dict[str, Any]:
    ops = json.dumps({"is_pic_info": pic_info, "rules": rules}, ensure_ascii=True)
    _, body = client.ci_image_process(Bucket=bucket, Key=key, PicOperations=ops)
    return body


def _objects(body: dict[str, Any]) -> list[dict[str, str]]:
    found = body["ProcessResults"]["Object"]
    return found if isinstance(found, list) else [found]


def _get(client: Any, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read()


def _fails(client: Any, bucket: str, key: str, rules: Any, raw_ops: str | None = None) -> CosServiceError:
    ops = raw_ops if raw_ops is not None else json.dumps({"rules": rules})
    with pytest.raises(CosServiceError) as info:
        client.ci_image_process(Bucket=bucket, Key=key, PicOperations=ops)
    return info.value


def _ci_code(err: CosServiceError) -> str:
    match = re.search(r"<Code>([^<]+)</Code>", err.get_origin_msg() or "")
    return match.group(1) if match else ""


@pytest.fixture
def photo(client: Any, bucket: str) -> tuple[str, str]:
    client.put_object(Bucket=bucket, Key="p1/test1.jpg", Body=jpeg())
    return bucket, "p1/test1.jpg"


def test_fileid_semantics_from_the_cos_docs(client: Any, photo: tuple[str, str]) -> None:
    bucket, key = photo
    body = _process(client, bucket, key, [
        {"fileid": "/p2/test2.jpg", "rule": "imageMogr2/thumbnail/!50p"},     # absolute
        {"fileid": "p2/test2.jpg", "rule": "imageMogr2/thumbnail/!50p"},      # relative to the source's dir
        {"fileid": "same-dir.png", "rule": "imageMogr2/format/png"},
    ])
    assert [o["Key"] for o in _objects(body)] == ["p2/test2.jpg", "p1/p2/test2.jpg", "p1/same-dir.png"]
    for out in ("p2/test2.jpg", "p1/p2/test2.jpg"):
        assert open_image(_get(client, bucket, out)).size == (320, 240)
    assert open_image(_get(client, bucket, "p1/same-dir.png")).format == "PNG"
    client.put_object(Bucket=bucket, Key="root.jpg", Body=jpeg(100, 80))  # a root object + relative fileid
    assert [o["Key"] for o in _objects(_process(client, bucket, "root.jpg", [
        {"fileid": "y.png", "rule": "imageMogr2/format/png"}]))] == ["y.png"]


def test_cross_bucket_destination_and_overwriting_the_source(client: Any, photo: tuple[str, str]) -> None:
    bucket, key = photo
    dest = f"dest{uuid.uuid4().hex[:8]}-1250000000"
    client.create_bucket(Bucket=dest)
    body = _process(client, bucket, key, [{"bucket": dest, "fileid": "/thumbs/t.webp",
                                           "rule": "imageMogr2/thumbnail/100x/format/webp"}])
    obj = _objects(body)[0]
    assert obj["Location"].startswith(f"{dest}.cos.") and obj["Location"].endswith("/thumbs/t.webp")
    image = open_image(_get(client, dest, "thumbs/t.webp"))
    assert (image.format, image.size) == ("WEBP", (100, 75))
    _process(client, bucket, key, [{"fileid": "test1.jpg", "rule": "imageMogr2/thumbnail/64x"}])
    assert open_image(_get(client, bucket, key)).size == (64, 48)  # fileid == source key overwrites it
    err = _fails(client, bucket, key, [{"bucket": "nowhere-1250000000", "fileid": "x.jpg", "rule": "imageMogr2/strip"}])
    assert err.get_status_code() == 404


def test_upload_result_fields_and_etags(client: Any, photo: tuple[str, str]) -> None:
    bucket, key = photo
    body = _process(client, bucket, key, [{"fileid": "a.png", "rule": "imageMogr2/thumbnail/200x/format/png"}],
                    pic_info=1)
    info = body["OriginalInfo"]
    assert info["Key"] == key and info["ETag"] == client.head_object(Bucket=bucket, Key=key)["ETag"]
    assert (info["ImageInfo"]["Format"], info["ImageInfo"]["Width"], info["ImageInfo"]["Height"]) == ("jpg", "640", "480")
    obj = _objects(body)[0]
    assert (obj["Format"], obj["Width"], obj["Height"]) == ("png", "200", "150")
    assert re.fullmatch(r'"[0-9a-f]{32}"', obj["ETag"])  # like the seed document's example: a quoted MD5
    head = client.head_object(Bucket=bucket, Key="p1/a.png")
    assert re.fullmatch(r'"[0-9a-f]{32}"', head["ETag"])
    assert head["Content-Length"] == obj["Size"] and head["Content-Type"] == "image/png"


GEOMETRIES = [("!50p", (320, 240)), ("!50px", (320, 480)), ("!x50p", (640, 240)), ("200x", (200, 150)),
              ("x120", (160, 120)), ("200x200", (200, 150)), ("1000x1000>", (640, 480)), ("100x100>", (100, 75)),
              ("1000x1000<", (1000, 750)), ("100x100<", (640, 480)), ("!200x200r", (267, 200)),
              ("100x100!", (100, 100)), ("10000@", (115, 87)), ("!50.5p", (323, 242))]
OPERATIONS = [
    ("imageMogr2/crop/300x200/gravity/center", (300, 200), "JPEG"),
    ("imageMogr2/crop/300x", (300, 480), "JPEG"),
    ("imageMogr2/cut/100x50x10x10", (100, 50), "JPEG"),
    ("imageMogr2/rotate/90", (480, 640), "JPEG"),
    ("imageMogr2/auto-orient/flip/vertical/strip", (640, 480), "JPEG"),
    ("imageMogr2/blur/3x2/quality/50", (640, 480), "JPEG"),
    ("imageMogr2/grayscale/1/format/png", (640, 480), "PNG"),
    ("imageMogr2/format/gif", (640, 480), "GIF"),
    ("imageMogr2/format/bmp", (640, 480), "BMP"),
    ("imageMogr2/format/tiff", (640, 480), "TIFF"),
    ("imageMogr2/thumbnail/320x/format/webp/quality/80", (320, 240), "WEBP"),
    ("imageMogr2/iradius/100/format/png", (200, 200), "PNG"),
    ("imageMogr2/thumbnail/64x/format/avif", (64, 48), "AVIF"),
    ("imageMogr2/crop/100x100/gravity/southeast/dx/10/dy/10", (100, 100), "JPEG"),
    ("imageMogr2/scrop/200x100", (200, 100), "JPEG"),
    ("imageMogr2/rradius/20/bright/10/contrast/-10/sharpen/50/format/png", (640, 480), "PNG"),
    ("imageView2/2/w/320", (320, 240), "JPEG"), ("imageView2/1/w/100/h/100", (100, 100), "JPEG"),
    ("imageView2/2/w/100/h/100/format/png", (100, 75), "PNG"), ("imageView2/3/w/100/h/100", (133, 100), "JPEG"),
    ("imageView2/3/w/300", (400, 300), "JPEG"), ("imageView2/2/h/120", (160, 120), "JPEG"),
    ("imageMogr2/rcrop/100x50", (100, 50), "JPEG"), ("imageView2/1/w/50", (50, 50), "JPEG"),
    ("imageMogr2/blur/2x60", (640, 480), "JPEG"),
    ("imageView2/4/w/100/h/50", (100, 75), "JPEG"), ("imageView2/5/w/100/h/50", (100, 50), "JPEG"),
    ("imageMogr2/thumbnail/!50p|imageMogr2/rotate/90|imageView2/2/w/100/format/png", (100, 133), "PNG"),
    ("ci-process=AISuperResolution", (1280, 960), "JPEG"),
    ("ci-process=AISuperResolution&magnify=4", (2560, 1920), "JPEG"),
    ("ci-process=AIImageCrop&width=300&height=200&fixed=1", (300, 200), "JPEG"),
    ("ci-process=AIImageColoring", (640, 480), "JPEG"),
    ("ci-process=AIEnhanceImage&denoise=3&sharpen=3", (640, 480), "JPEG"),
    ("imageMogr2/thumbnail/200x200/pad/1/color/I0ZGMDAwMA", (200, 200), "JPEG"),  # padded to exactly WxH
    ("imageMogr2/gravity/southeast/crop/100x100", (100, 100), "JPEG"),  # gravity before crop
    ("imageView2/format/png", (640, 480), "PNG"), ("imageView2/2/w/100/interlace/1", (100, 75), "JPEG"),
    ("imageMogr2/quality/0", (640, 480), "JPEG"), ("imageSlim", (640, 480), "JPEG"),
    ("watermark/3/type/3/text/Q09T", (640, 480), "JPEG"),
]


def test_thumbnail_geometries(client: Any, photo: tuple[str, str]) -> None:
    bucket, key = photo
    for start in range(0, len(GEOMETRIES), 5):
        chunk = GEOMETRIES[start:start + 5]
        body = _process(client, bucket, key, [{"fileid": f"/geo/{i}.jpg", "rule": f"imageMogr2/thumbnail/{g}"}
                                              for i, (g, _) in enumerate(chunk, start)])
        for (geometry, size), obj in zip(chunk, _objects(body)):
            assert open_image(_get(client, bucket, obj["Key"])).size == size, geometry
            assert (int(obj["Width"]), int(obj["Height"])) == size, geometry


@pytest.mark.parametrize(("rule", "size", "fmt"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_operations(client: Any, photo: tuple[str, str], rule: str, size: tuple[int, int], fmt: str,
                    server: LocalServer) -> None:
    bucket, key = photo
    server.set_bucket_ci(bucket, advanced_compression=True)  # AVIF output needs it (436/42215)
    obj = _objects(_process(client, bucket, key, [{"fileid": "/ops/out", "rule": rule}]))[0]
    image = open_image(_get(client, bucket, obj["Key"]))
    assert (image.size, image.format) == (size, fmt)
    if "grayscale" in rule:
        assert image.mode == "L"


@pytest.mark.parametrize("name", ["AIPicMatting", "AIPortraitMatting", "GoodsMatting"])
def test_matting_gives_png_with_alpha(client: Any, photo: tuple[str, str], name: str) -> None:
    bucket, key = photo
    obj = _objects(_process(client, bucket, key, [{"fileid": "/matte/out.png", "rule": f"ci-process={name}"}]))[0]
    image = open_image(_get(client, bucket, obj["Key"]))
    assert image.format == "PNG" and image.mode == "RGBA" and obj["Format"] == "png"
    low, high = image.getchannel("A").getextrema()
    assert low == 0 and high == 255  # background keyed out, subject kept


def test_processing_is_deterministic(client: Any, photo: tuple[str, str]) -> None:
    bucket, key = photo
    rules = [{"fileid": "/det/a.png", "rule": "ci-process=AIPicMatting"},
             {"fileid": "/det/b.jpg", "rule": "ci-process=AIEnhanceImage"}]
    first = [o["ETag"] for o in _objects(_process(client, bucket, key, rules))]
    assert first == [o["ETag"] for o in _objects(_process(client, bucket, key, rules))]


def test_error_paths(client: Any, photo: tuple[str, str]) -> None:
    """Each refusal carries CI's documented numeric code as its <Code> (declare.ci_errors), in CI's body
    without <Resource>; what the server does not emulate is 501."""
    bucket, key = photo
    six = [{"fileid": f"/six/{i}.jpg", "rule": "imageMogr2/strip"} for i in range(6)]
    for rules, needle, status, code in [
            (six, "at most 5", 400, "-60997"),
            ([{"fileid": "x.jpg", "rule": "imageMogr2/thumbnail/12qx"}], "thumbnail geometry '12qx'", 400, "-60998"),
            ([{"fileid": "x.jpg", "rule": "imageMogr2/gravity/middle"}], "gravity", 400, "-60998"),
            ([{"fileid": "dir/", "rule": "imageMogr2/strip"}], "fileid", 400, "-60998"),
            ([{"fileid": "x.jpg", "rule": "ci-process=AIImageCrop&width=10"}], "height", 400, "-60998"),
            ([{"fileid": "x.jpg", "rule": "style/nostyle"}], "no image style", 404, "-60967"),
            ([{"fileid": "x.jpg", "rule": "watermark/1/image/aHR0cA"}], "not emulated", 501, "NotImplemented"),
            ([{"fileid": "x.jpg", "rule": "nonsense/1"}], "nonsense", 400, "-60998")]:
        err = _fails(client, bucket, key, rules)
        assert (err.get_status_code(), _ci_code(err)) == (status, code), needle
        assert needle in err.get_origin_msg() and "<Resource>" not in err.get_origin_msg()
    err = _fails(client, bucket, key, None, raw_ops="{not json")
    assert err.get_status_code() == 400 and _ci_code(err) == "-60998"
    client.put_object(Bucket=bucket, Key="p1/notes.txt", Body=b"plain text, not an image")
    err = _fails(client, bucket, "p1/notes.txt", [{"fileid": "x.jpg", "rule": "imageMogr2/strip"}])
    assert err.get_status_code() == 400 and _ci_code(err) == "-62999" and "not an image" in err.get_origin_msg()
    err = _fails(client, bucket, "p1/missing.jpg", [{"fileid": "x.jpg", "rule": "imageMogr2/strip"}])
    assert (err.get_status_code(), err.get_error_code()) == (404, "NoSuchKey")
    listed = [c["Key"] for c in client.list_objects(Bucket=bucket, Prefix="six/").get("Contents", [])]
    assert listed == []  # a failed request writes nothing


def test_processing_upon_upload(client: Any, bucket: str) -> None:
    ops = json.dumps({"is_pic_info": 1, "rules": [{"fileid": "thumb/s.png", "rule": "imageView2/2/w/64/format/png"}]})
    _, body = client.ci_put_object(Bucket=bucket, Key="up/photo.jpg", Body=jpeg(), PicOperations=ops)
    assert body["OriginalInfo"]["Key"] == "up/photo.jpg" and body["OriginalInfo"]["ImageInfo"]["Width"] == "640"
    assert body["ProcessResults"]["Object"]["Key"] == "up/thumb/s.png"
    assert open_image(_get(client, bucket, "up/photo.jpg")).size == (640, 480)
    assert open_image(_get(client, bucket, "up/thumb/s.png")).size == (64, 48)


def test_processing_during_download(client: Any, bucket: str, tmp_path: Path) -> None:
    client.put_object(Bucket=bucket, Key="dl/photo.jpg", Body=jpeg())
    for rule, size, fmt in [("imageMogr2/thumbnail/!25p/format/png", (160, 120), "PNG"),
                            ("ci-process=AISuperResolution", (1280, 960), "JPEG")]:
        dest = tmp_path / "out.bin"
        client.ci_get_object(Bucket=bucket, Key="dl/photo.jpg", DestImagePath=str(dest), Rule=rule)
        image = open_image(dest.read_bytes())
        assert (image.size, image.format) == (size, fmt)
    assert [c["Key"] for c in client.list_objects(Bucket=bucket, Prefix="dl/")["Contents"]] == ["dl/photo.jpg"]


def test_rate_limit_and_injected_faults(tmp_path: Path) -> None:
    with LocalServer(tmp_path, buckets=["ci-1250000000"], ci_qps=2, seed=7) as srv:
        client = make_client(srv)
        client.put_object(Bucket="ci-1250000000", Key="s.jpg", Body=jpeg(64, 48))
        rules = [{"fileid": "o.jpg", "rule": "imageMogr2/strip"}]
        outcomes = []
        for _ in range(8):
            try:
                _process(client, "ci-1250000000", "s.jpg", rules)
                outcomes.append("ok")
            except CosServiceError as exc:
                assert exc.get_status_code() == 503
                outcomes.append(_ci_code(exc))
        assert "ok" in outcomes and "SlowDown" in outcomes and set(outcomes) == {"ok", "SlowDown"}
        assert srv.stats()["image_process"] == 8 and srv.stats()["error:SlowDown"] == outcomes.count("SlowDown")
        srv.set_faults(ci_qps=0, throttle_rate=1.0)
        assert _ci_code(_fails(client, "ci-1250000000", "s.jpg", rules)) == "SlowDown"
        srv.set_faults(throttle_rate=0.0, fail_rate=1.0)
        err = _fails(client, "ci-1250000000", "s.jpg", rules)
        assert (err.get_status_code(), _ci_code(err)) == (500, "InternalError")
        srv.set_faults(fail_rate=0.0)
        _process(client, "ci-1250000000", "s.jpg", rules)
        client.put_object(Bucket="ci-1250000000", Key="plain", Body=b"x")  # object calls are never faulted


def _pattern(root: Path, seed: int) -> list[str]:
    with LocalServer(root, buckets=["seed-1250000000"], ci_qps=0, throttle_rate=0.5, seed=seed) as srv:
        client = make_client(srv)
        client.put_object(Bucket="seed-1250000000", Key="s.jpg", Body=jpeg(32, 24))
        out = []
        for _ in range(12):
            try:
                _process(client, "seed-1250000000", "s.jpg", [{"fileid": "o.jpg", "rule": "imageMogr2/strip"}])
                out.append("ok")
            except CosServiceError:
                out.append("throttled")
        return out


def test_seeded_faults_are_reproducible(tmp_path: Path) -> None:
    first = _pattern(tmp_path / "a", 42)
    assert first == _pattern(tmp_path / "b", 42) and set(first) == {"ok", "throttled"}


def test_size_limits(client: Any, bucket: str) -> None:
    """The limits page 460/36620 (2026-01-12): a width or height over 10,000 is processed as 10,000; a result may
    be 50,000 px a side; ignore-error/1 returns (and stores) the original when a limit is exceeded; the local
    server's own 40 Mpx bound is a 501 saying so, never a cloud-looking 400."""
    client.put_object(Bucket=bucket, Key="big/wide.jpg", Body=jpeg(2000, 1200))
    client.put_object(Bucket=bucket, Key="big/thin.jpg", Body=jpeg(100, 2))
    client.put_object(Bucket=bucket, Key="big/long.jpg", Body=jpeg(6000, 10))
    for key, rule, needle, status, code in [
            ("big/wide.jpg", "imageMogr2/thumbnail/!20000p", "malformed thumbnail geometry", 400, "-60998"),
            ("big/long.jpg", "imageMogr2/thumbnail/!1000p", "over the limits (50000 px a side)", 400, "-60996"),
            ("big/wide.jpg", "ci-process=AISuperResolution", "1920x1080", 400, "-60996"),
            ("big/wide.jpg", "imageMogr2/thumbnail/60000x", "too large for the local server", 501, "NotImplemented")]:
        err = _fails(client, bucket, key, [{"fileid": "x.jpg", "rule": rule}])
        assert (err.get_status_code(), _ci_code(err)) == (status, code), rule
        assert needle in err.get_origin_msg(), rule
    made = _objects(_process(client, bucket, "big/thin.jpg", [{"fileid": "/t.jpg", "rule": "imageMogr2/thumbnail/12000x"}]))
    assert (made[0]["Width"], made[0]["Height"]) == ("10000", "200")
    assert open_image(_get(client, bucket, "t.jpg")).size == (10000, 200)
    kept = _objects(_process(client, bucket, "big/long.jpg",
                             [{"fileid": "/l.jpg", "rule": "imageMogr2/thumbnail/!1000p/ignore-error/1"}]))
    assert (kept[0]["Width"], kept[0]["Height"]) == ("6000", "10")
    assert _get(client, bucket, "l.jpg") == _get(client, bucket, "big/long.jpg")  # the original, stored


def test_auto_orient_applies_exif_orientation(client: Any, bucket: str) -> None:
    import io

    from PIL import Image

    image = Image.new("RGB", (64, 32), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes())
    client.put_object(Bucket=bucket, Key="exif.jpg", Body=buf.getvalue())
    body = _process(client, bucket, "exif.jpg", [{"fileid": "upright.jpg", "rule": "imageMogr2/auto-orient"},
                                                  {"fileid": "stripped.jpg", "rule": "imageMogr2/strip"}], pic_info=1)
    assert body["OriginalInfo"]["ImageInfo"]["Orientation"] == "6"
    upright = open_image(_get(client, bucket, "upright.jpg"))
    assert upright.size == (32, 64) and upright.getexif().get(0x0112, 1) == 1
    assert 0x0112 not in open_image(_get(client, bucket, "stripped.jpg")).getexif()


def test_text_watermark(client: Any, photo: tuple[str, str]) -> None:
    import base64

    def b64(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    bucket, key = photo
    rule = f"imageMogr2/thumbnail/320x|watermark/2/text/{b64('cosrecon 水印')}/fill/{b64('#0000FF')}/fontsize/60" \
           f"/dissolve/100/gravity/center"
    obj = _objects(_process(client, bucket, key, [{"fileid": "/wm/out.png", "rule": rule + "|imageMogr2/format/png"}]))[0]
    image = open_image(_get(client, bucket, obj["Key"])).convert("RGB")
    assert image.size == (320, 240)
    colors = {image.getpixel((x, y)) for x in range(60, 260, 2) for y in range(90, 150, 2)}
    assert (0, 0, 255) in colors  # the text is drawn in its fill colour
    for bad, status in (("watermark/1/image/aHR0cA", 501), ("watermark/2/fontsize/20", 400),
                        (f"watermark/2/text/{b64('x')}/fill/{b64('red')}", 400)):
        err = _fails(client, bucket, key, [{"fileid": "x.jpg", "rule": bad}])
        assert err.get_status_code() == status and "watermark" in err.get_origin_msg(), bad
