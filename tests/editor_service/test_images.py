"""Uploaded images (`editor_service/images.py`, `decoding.py`): the decode budget, the bounded pool, and what is
stored of a photo: its pixels upright and its colour profile, nothing it hid."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from PIL import Image, ImageCms, ImageFile, PngImagePlugin

from editor_service.decoding import ImageChecks
from editor_service.images import CheckedImage, ImageRefused, check_image
from editor_service.settings import EditorSettings

BUDGET = EditorSettings.model_fields["editor_max_image_pixels"].default
LIMITS = {"max_bytes": 8 * 2**20, "max_pixels": BUDGET}
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="52,22N"/></x:xmpmeta>'
HIDDEN = b"<script>alert(document.cookie)</script>"
PNG_END = b"IEND\xaeB`\x82"


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 22.0, 7.5), 3: "E", 4: (4.0, 53.0, 2.1)})
    return exif


def photo(kind: str, size: tuple[int, int] = (64, 48), orientation: int = 1) -> bytes:
    """A customer's photo as phones send them: GPS in its EXIF, XMP, an ICC profile, and something after its end."""
    image = Image.new("RGB", size, "teal")
    image.paste((200, 30, 30), (0, 0, size[0] // 2, size[1]))  # left half red: orientation is visible
    out = io.BytesIO()
    extra: dict[str, object] = {"exif": exif_with_gps(orientation), "icc_profile": ICC}
    if kind == "JPEG":
        extra |= {"xmp": XMP, "comment": b"taken at home"}
    elif kind == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "taken at home")
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        extra["pnginfo"] = info
    else:
        extra["xmp"] = XMP
    image.save(out, kind, **extra)
    return out.getvalue() + HIDDEN


def reopened(checked: CheckedImage) -> Image.Image:
    image = Image.open(io.BytesIO(checked.data))
    image.load()
    return image


def test_upload_amplification_a_6300_by_6300_png_bomb_is_refused_from_its_header_without_a_decode(monkeypatch):
    out = io.BytesIO()
    Image.new("1", (6300, 6300)).save(out, "PNG")  # a few KB on the wire, 40 Mpx once decoded
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(image):
        decoded.append(image.size)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(ImageRefused, match="too many pixels"):
        check_image(out.getvalue(), **LIMITS)
    assert decoded == []  # refused from the size in its header: not one pixel decoded
    assert Image.MAX_IMAGE_PIXELS != BUDGET  # the budget is ours, per call, not Pillow's process-wide setting


def test_a_jpeg_over_the_budget_is_decoded_reduced_to_fit_it_and_one_too_large_even_so_is_refused(monkeypatch):
    out = io.BytesIO()
    Image.new("RGB", (4001, 3001), "teal").save(out, "JPEG")
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(image):
        decoded.append(image.size)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    checked = check_image(out.getvalue(), max_bytes=10**8, max_pixels=3_100_000)
    assert (checked.width, checked.height) == (2001, 1501) and set(decoded) == {(2001, 1501)}  # never at full size
    assert reopened(checked).size == (2001, 1501)
    with pytest.raises(ImageRefused, match="too many pixels"):  # past 1/8: refused
        check_image(out.getvalue(), max_bytes=10**8, max_pixels=150_000)
    png = io.BytesIO()
    Image.new("RGB", (2000, 1600), "teal").save(png, "PNG")
    with pytest.raises(ImageRefused, match="too many pixels"):  # only a JPEG decodes reduced
        check_image(png.getvalue(), max_bytes=10**8, max_pixels=3_100_000)


async def test_upload_amplification_concurrent_submissions_decode_at_most_two_images_at_a_time():
    lock, release = threading.Lock(), threading.Event()
    running, most, finished = [0], [0], []

    def slow_check(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1
            finished.append(data)
        return CheckedImage(data, "image/png", "png", 1, 1)

    checks = ImageChecks(
        max_bytes=10,
        max_pixels=10,
        decodes=EditorSettings.model_fields["editor_image_decodes"].default,
        check=slow_check,
    )
    submissions = [asyncio.ensure_future(checks.check(bytes([i]))) for i in range(6)]
    for _ in range(500):  # until the pool's threads have taken what they can
        if running[0] == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # room for a third to start, were the pool not bounded
    assert running[0] == 2 and not any(s.done() for s in submissions)
    release.set()
    answers = await asyncio.gather(*submissions)
    assert [a.data for a in answers] == [bytes([i]) for i in range(6)] and most[0] == 2 and len(finished) == 6
    await checks.close()


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_customers_photos_keep_no_gps_and_no_hidden_content_and_keep_their_colour_profile(kind):
    sent = photo(kind)
    assert b"PhoneMaker" in sent and HIDDEN in sent  # what the customer's phone put in
    checked = check_image(sent, **LIMITS)
    stored = reopened(checked)
    assert stored.format == kind and stored.size == (64, 48)
    assert dict(stored.getexif()) == {} and stored.getexif().get_ifd(0x8825) == {}  # no GPS, no camera
    assert stored.info.get("icc_profile") == ICC  # colours print as they were meant
    assert not {"xmp", "XML:com.adobe.xmp", "comment", "Comment", "exif"} & set(stored.info)
    for hidden in (HIDDEN, b"PhoneMaker", b"xmpmeta", b"taken at home"):
        assert hidden not in checked.data
    if kind == "JPEG":
        assert checked.data.endswith(b"\xff\xd9")  # nothing after the end of image
    elif kind == "PNG":
        assert checked.data.endswith(PNG_END)  # nothing after IEND
    else:
        assert len(checked.data) == int.from_bytes(checked.data[4:8], "little") + 8  # the RIFF's own length


def test_a_photo_is_stored_upright_by_its_exif_orientation_before_the_exif_goes():
    checked = check_image(photo("JPEG", size=(64, 48), orientation=6), **LIMITS)  # "rotate 90° clockwise to view"
    stored = reopened(checked).convert("RGB")
    assert stored.size == (48, 64) and (checked.width, checked.height) == (48, 64)
    red, teal = stored.getpixel((24, 8)), stored.getpixel((24, 56))  # the left half is now on top
    assert red[0] > 150 > red[2] and teal[0] < 60 < teal[2]


def test_a_png_keeps_its_transparency_and_a_jpeg_its_quality():
    out = io.BytesIO()
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 255, 255, 255])
    palette.save(out, "PNG", transparency=1)
    assert reopened(check_image(out.getvalue(), **LIMITS)).info["transparency"] == 1
    sent = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(sent, "JPEG", quality=70)
    original = Image.open(io.BytesIO(sent.getvalue()))
    assert reopened(check_image(sent.getvalue(), **LIMITS)).quantization == original.quantization


def test_a_phones_multi_picture_jpeg_is_stored_as_its_first_picture_alone():
    first, hidden = Image.new("RGB", (64, 48), "teal"), Image.new("RGB", (640, 480), "red")
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[hidden], exif=exif_with_gps())
    checked = check_image(out.getvalue(), **LIMITS)
    stored = reopened(checked)
    assert checked.media_type == "image/jpeg" and stored.format == "JPEG" and stored.size == (64, 48)
    assert getattr(stored, "n_frames", 1) == 1 and dict(stored.getexif()) == {}
    assert checked.data.endswith(b"\xff\xd9") and checked.data.count(b"\xff\xd8") == 1  # one picture, no second
