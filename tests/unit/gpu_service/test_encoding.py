"""Encoding within Telegram's photo limits, on synthetic pictures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gpu_service import encoding


def noise(width: int, height: int, seed: int = 3) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def flat_cells(width: int, height: int, colours: int = 4, cell: int = 8) -> Image.Image:
    rng = np.random.default_rng(5)
    palette = rng.integers(0, 256, (colours, 3), dtype=np.uint8)
    index = rng.integers(0, colours, (height // cell, width // cell))
    return Image.fromarray(palette[index].repeat(cell, 0).repeat(cell, 1), "RGB")


def opened(encoded: encoding.EncodedImage) -> Image.Image:
    image = Image.open(io.BytesIO(encoded.data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("name", "fmt", "content_type", "extension"),
    [
        ("png", "PNG", "image/png", "png"),
        ("jpeg", "JPEG", "image/jpeg", "jpg"),
        ("webp", "WEBP", "image/webp", "webp"),
    ],
)
def test_each_encoding_writes_its_format(name: str, fmt: str, content_type: str, extension: str) -> None:
    encoded = encoding.encode(noise(64, 96), name)

    assert opened(encoded).format == fmt and opened(encoded).size == (64, 96)
    assert (encoded.content_type, encoded.extension, encoded.width, encoded.height) == (
        content_type,
        extension,
        64,
        96,
    )


def test_png_of_few_colours_is_an_exact_palette_image() -> None:
    picture = flat_cells(128, 128, colours=16)

    encoded = encoding.encode(picture, "png")

    assert opened(encoded).mode == "P"
    assert np.array_equal(np.asarray(opened(encoded).convert("RGB")), np.asarray(picture))  # lossless
    assert len(encoded.data) < len(encoding.encode(noise(128, 128), "png").data) / 10


def test_jpeg_is_high_quality_and_deterministic() -> None:
    picture = flat_cells(256, 256)

    first, again = encoding.encode(picture, "jpeg"), encoding.encode(picture, "jpeg")

    assert first.data == again.data
    error = np.abs(np.asarray(opened(first)).astype(int) - np.asarray(picture).astype(int))
    assert error.mean() < 2


@pytest.mark.parametrize("name", ["png", "jpeg", "webp"])
def test_a_picture_over_the_byte_limit_is_made_to_fit(name: str) -> None:
    picture = noise(512, 512)
    limit = 60_000  # stands in for 10 MB: noise is the worst case for every encoder

    encoded = encoding.encode(picture, name, max_bytes=limit)

    assert len(encoded.data) <= limit < len(encoding.encode(picture, name).data)
    assert opened(encoded).size == (encoded.width, encoded.height)


def test_the_real_limits_are_telegrams() -> None:
    assert (encoding.MAX_PHOTO_BYTES, encoding.MAX_SIDES_SUM, encoding.MAX_RATIO) == (10_000_000, 10_000, 20)


def test_width_plus_height_over_10000_is_scaled_down_keeping_the_shape() -> None:
    encoded = encoding.encode(Image.new("RGB", (8000, 4000), "teal"), "png")

    assert encoded.width + encoded.height <= 10_000
    assert abs(encoded.width / encoded.height - 2) < 0.01


def test_a_ratio_beyond_20_is_refused() -> None:
    with pytest.raises(encoding.PhotoLimitError, match="ratio"):
        encoding.encode(Image.new("RGB", (2100, 100)), "jpeg")


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown encoding 'gif'"):
        encoding.encode(noise(8, 8), "gif")
