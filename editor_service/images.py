"""Uploaded images: decoded and checked with Pillow by their content, then stored under a random name.

The client's file name and content type are never used: the format comes from
the bytes (JPEG, PNG or WebP only), the name from `secrets`. Decompression
bombs are refused from the header's size before any pixel is decoded, and
Pillow's own `MAX_IMAGE_PIXELS` guard is set to the same limit as a second line.
The original bytes are kept (print quality); nothing is re-encoded.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from schemas import Asset

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class ImageRefused(ValueError):
    """The upload is not an image we accept; the message is shown to the customer."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    media_type: str
    extension: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def check_image(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
    """Decode fully (CPU-bound: call it in a thread); raises `ImageRefused` with a reason for the customer."""
    if len(data) > max_bytes:
        raise ImageRefused(f"This file is too large (at most {max_bytes // (1024 * 1024)} MB).")
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
                kind, (width, height) = probe.format, probe.size
                if width * height > max_pixels:
                    raise ImageRefused("This image has too many pixels.")
                probe.verify()
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                image.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused("This image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ImageRefused("Please choose a JPEG, PNG or WebP image.") from None
    if kind not in FORMATS or width < 1 or height < 1:
        raise ImageRefused("Please choose a JPEG, PNG or WebP image.")
    media_type, extension = FORMATS[kind]
    return CheckedImage(data, media_type, extension, width, height)


class AssetStore:
    """Files under one folder, named `<random>.<ext>`, written whole before they appear (rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def save(self, field: str, image: CheckedImage) -> Asset:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{secrets.token_hex(16)}.{image.extension}"
        partial = path.with_suffix(".part")
        with open(partial, "wb") as out:
            out.write(image.data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
        return Asset(field=field, uri=path.as_uri(), media_type=image.media_type, sha256=image.sha256)

    def discard(self, asset: Asset) -> None:
        """Remove a file whose completion lost the race to another submission."""
        path = Path(asset.uri.removeprefix("file://"))
        if path.parent == self.folder:
            path.unlink(missing_ok=True)
