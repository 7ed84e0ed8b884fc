"""Uploaded images: checked by their content within a decode budget, then re-encoded without what they hide.

- **Content only.** The format comes from the bytes (JPEG, PNG or WebP); the client's name and type are never
  used.
- **A decode budget.** The header's width × height is read before any pixel is decoded (Pillow opens lazily).
  Over `max_pixels` a JPEG is decoded at 1/2, 1/4 or 1/8 scale (`draft`: libjpeg scales while it decodes, so the
  full size never exists in memory); any other image is refused. No upload costs more than `max_pixels` decoded,
  however small it is on the wire (a 115 KB PNG can claim 40 Mpx). Pillow's own guard is left at its default,
  a backstop: `Image.MAX_IMAGE_PIXELS` is process-wide, so the limit is checked here, per call.
- **Nothing hidden is stored.** What is kept is the decoded pixels, turned upright by their EXIF orientation,
  encoded again with the ICC profile only: no EXIF (GPS, camera serial), XMP, comments, text chunks, other
  frames (an MPO's, an animation's), or bytes after the image's end. A JPEG keeps its own quantization tables and chroma subsampling, so
  its quality is the one the customer sent; a PNG is lossless anyway; a WebP is encoded at quality 95.
CPU-bound: `decoding.ImageChecks` runs it on its own small pool.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
# Many phones' JPEGs are MPO (a JPEG, then more pictures after its end: a depth map, a preview): kept as the JPEG.
SAME_AS = {"MPO": "JPEG"}
JPEG_SCALES = (2, 4, 8)  # the reductions libjpeg decodes at
WEBP_QUALITY = 95
TOO_MANY_PIXELS = "This image has too many pixels."
NOT_AN_IMAGE = "Please choose a JPEG, PNG or WebP image."


class ImageRefused(ValueError):
    """The upload is not an image we accept; the message is shown to the customer."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes  # re-encoded: what is stored
    media_type: str
    extension: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def check_image(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
    """Decode within the budget and re-encode; raises `ImageRefused` with a reason for the customer."""
    if len(data) > max_bytes:
        raise ImageRefused(f"This file is too large (at most {max_bytes // (1024 * 1024)} MB).")
    try:
        # Pillow's bomb warning as a refusal (past its own default limit, above ours for all but JPEGs). The
        # warnings filter is process-wide, so two threads may undo each other's: the budget below is the guard.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            _verified(data)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                return _clean(_decoded_within(image, max_pixels))
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, ZeroDivisionError):
        raise ImageRefused(NOT_AN_IMAGE) from None


def _verified(data: bytes) -> None:
    """The file's own checks (PNG chunk CRCs and the like), from the header, without decoding pixels."""
    with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
        if kind_of(probe) not in FORMATS or probe.width < 1 or probe.height < 1:
            raise ImageRefused(NOT_AN_IMAGE)
        probe.verify()


def kind_of(image: Image.Image) -> str:
    return SAME_AS.get(image.format or "", image.format or "")


def decode_scale(width: int, height: int, max_pixels: int, kind: str) -> int:
    """1 within the budget; the JPEG reduction that fits it; else refused (before any pixel is decoded)."""
    if width * height <= max_pixels:
        return 1
    if kind == "JPEG":
        for scale in JPEG_SCALES:
            if width >= scale and height >= scale and -(-width // scale) * -(-height // scale) <= max_pixels:
                return scale
    raise ImageRefused(TOO_MANY_PIXELS)


def _decoded_within(image: Image.Image, max_pixels: int) -> Image.Image:
    scale = decode_scale(image.width, image.height, max_pixels, kind_of(image))
    if scale > 1:  # floor sizes: `draft` picks the largest reduction that keeps at least them
        image.draft(image.mode, (image.width // scale, image.height // scale))
        if image.width * image.height > max_pixels:
            raise ImageRefused(TOO_MANY_PIXELS)
    image.load()
    return image


def _clean(image: Image.Image) -> CheckedImage:
    kind = kind_of(image)
    media_type, extension = FORMATS[kind]
    options: dict[str, object] = {}
    if icc := image.info.get("icc_profile"):
        options["icc_profile"] = icc
    if kind == "JPEG":  # read from the source: transposing drops them
        assert isinstance(image, JpegImagePlugin.JpegImageFile)
        options |= {"qtables": image.quantization, "subsampling": JpegImagePlugin.get_sampling(image)}
        if options["subsampling"] == -1:
            del options["subsampling"]
    elif kind == "WEBP":
        options["quality"] = WEBP_QUALITY
    elif "transparency" in image.info:  # a PNG's transparent colour is pixels, not metadata
        options["transparency"] = image.info["transparency"]
    ImageOps.exif_transpose(image, in_place=True)
    image.info = {}  # savers fall back on it (a JPEG's comment): only what `options` says is written
    out = io.BytesIO()
    image.save(out, kind, **options)
    return CheckedImage(out.getvalue(), media_type, extension, image.width, image.height)
