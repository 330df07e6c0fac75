"""The fake's media helpers: what a Telegram app names a file, and which bytes Pillow may open."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from local.fake_telegram import _media
from tests.support.images import png


def webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="WEBP")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (png(4, 4), "image/png"),
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"GIF89a...", "image/gif"),
        (webp(), "image/webp"),
        (b"%PDF-1.4", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_a_file_is_typed_from_its_first_bytes(data: bytes, mime: str) -> None:
    assert _media.sniffed_mime(data) == mime


def test_only_images_within_pillows_pixel_limit_are_opened() -> None:
    too_many = int(Image.MAX_IMAGE_PIXELS or 0) + 1
    side = int(too_many**0.5) + 1
    buffer = io.BytesIO()
    Image.new("1", (side, 1)).save(buffer, format="PNG")  # small, to have a valid file to patch
    header_only = buffer.getvalue()

    assert _media.open_image(png(10, 10)) is not None
    assert _media.open_image(b"not an image") is None
    # The height in the IHDR chunk is rewritten (and its CRC): a header claiming side x side pixels.
    ihdr = header_only[12:20] + side.to_bytes(4, "big") + header_only[24:29]
    claimed = header_only[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + header_only[33:]
    # Pillow itself opens it, with its warning: the header is valid, only too big.
    with pytest.warns(Image.DecompressionBombWarning):
        assert Image.open(io.BytesIO(claimed)).size == (side, side)
    assert _media.open_image(claimed) is None


def test_media_group_ids_are_long_decimal_strings_that_differ() -> None:
    first, second = _media.new_media_group_id(), _media.new_media_group_id()

    assert first.isdigit() and len(first) == 18
    assert first != second
