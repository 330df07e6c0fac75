"""The finished picture as a file Telegram accepts as a photo. Pure: PIL in, bytes out.

PNG for pixel art (lossless: flat cells stay flat, and a small palette compresses well), JPEG
or WebP at high quality for the others (a tenth of a PNG's size for a painting or a photo,
so the upload, the download and Telegram's own processing are faster).

Telegram's sendPhoto limits: at most 10 MB, width + height at most 10,000, and a ratio of
the longer to the shorter side of at most 20. A picture that breaks one is made to fit (a
smaller size, a lower quality) rather than refused: the user asked for a picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

MAX_PHOTO_BYTES = 10 * 1000 * 1000  # Telegram says 10 MB; decimal megabytes, to be safe
MAX_SIDES_SUM = 10_000
MAX_RATIO = 20
JPEG_QUALITY = 92
WEBP_QUALITY = 90
# Each retry of a picture over the byte limit: a lower quality, then a smaller size.
_QUALITY_STEPS = (92, 85, 75, 60)
_SHRINK = 0.75

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# The object name's extension of each encoding (the contract allows png, jpg and webp).
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}


class PhotoLimitError(ValueError):
    """A picture Telegram cannot take as a photo, however it is encoded."""


class Encoded:
    """What follows from a picture's `encoding`: its content type and its object's extension
    (EncodedImage here, images.GeneratedImage for the storage edge)."""

    encoding: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.encoding]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.encoding]


@dataclass(frozen=True)
class EncodedImage(Encoded):
    data: bytes
    encoding: str  # png | jpeg | webp
    width: int
    height: int


def encode(image: Image.Image, encoding: str, *, max_bytes: int = MAX_PHOTO_BYTES) -> EncodedImage:
    """The picture as `encoding`, within Telegram's photo limits. Deterministic: the same
    pixels give the same bytes, which keeps a seed reproducible end to end."""
    if encoding not in CONTENT_TYPES:
        raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(CONTENT_TYPES)}")
    image = fit_dimensions(image.convert("RGB"))
    while True:
        for quality in _QUALITY_STEPS if encoding != "png" else (None,):
            data = _save(image, encoding, quality)
            if len(data) <= max_bytes:
                return EncodedImage(data, encoding, image.width, image.height)
        if min(image.size) <= 64:
            raise PhotoLimitError(f"cannot encode a picture under {max_bytes} bytes")
        image = image.resize(
            (max(1, round(image.width * _SHRINK)), max(1, round(image.height * _SHRINK))),
            Image.Resampling.LANCZOS,
        )


def fit_dimensions(image: Image.Image) -> Image.Image:
    """The picture scaled down, if needed, so that width + height is within Telegram's limit."""
    width, height = image.size
    if max(width, height) > MAX_RATIO * min(width, height):
        raise PhotoLimitError(f"a {width}x{height} picture is beyond Telegram's 1:{MAX_RATIO} ratio")
    if width + height <= MAX_SIDES_SUM:
        return image
    scale = MAX_SIDES_SUM / (width + height)
    return image.resize((int(width * scale), int(height * scale)), Image.Resampling.LANCZOS)


def _save(image: Image.Image, encoding: str, quality: int | None) -> bytes:
    buffer = io.BytesIO()
    if encoding == "png":
        _as_palette(image).save(buffer, format="PNG", optimize=True)
    elif encoding == "jpeg":
        # No chroma subsampling: it smears colour edges, visible on flat, saturated areas.
        image.save(buffer, format="JPEG", quality=quality or JPEG_QUALITY, subsampling=0)
    else:
        image.save(buffer, format="WEBP", quality=min(quality or WEBP_QUALITY, WEBP_QUALITY), method=4)
    return buffer.getvalue()


def _as_palette(image: Image.Image) -> Image.Image:
    """The same pixels as a palette image when there are at most 256 colours (pixel art has
    16): a palette PNG is a fraction of the size of an RGB one. Exact: each pixel gets the
    index of its own colour (Pillow's quantize maps through a coarse colour cache, which can
    swap two colours a level or two apart: a grid's four palettes have such pairs)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    colours, index = np.unique(packed, return_inverse=True)
    if len(colours) > 256:
        return image
    palette = Image.fromarray(index.reshape(packed.shape).astype(np.uint8), "P")
    palette.putpalette([int(c >> shift) & 0xFF for c in colours for shift in (16, 8, 0)])
    return palette
