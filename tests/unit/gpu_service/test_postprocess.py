from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gpu_service import postprocess


def noisy_picture(width: int, height: int, seed: int = 7) -> Image.Image:
    """Smooth gradients plus noise: thousands of colours and no grid, like a diffusion output."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def colours(image: Image.Image) -> int:
    pixels = np.asarray(image).astype(np.uint32)
    return len(np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2]))


def test_pixel_grid_keeps_the_size_and_limits_the_palette() -> None:
    picture = noisy_picture(512, 512)
    assert colours(picture) > 1000

    pixelated = postprocess.pixel_grid(picture)

    assert pixelated.size == (512, 512)
    assert pixelated.mode == "RGB"
    assert colours(pixelated) <= postprocess.PIXEL_COLOURS


def test_pixel_grid_cells_are_uniform_squares() -> None:
    pixels = np.asarray(postprocess.pixel_grid(noisy_picture(512, 512)))
    cell = 512 // postprocess.PIXEL_CELLS  # 8

    blocks = pixels.reshape(64, cell, 64, cell, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()  # every pixel equals its cell's corner
    # ...and the cells are really cells: neighbouring ones differ somewhere.
    assert (blocks[:, 0, :-1, 0] != blocks[:, 0, 1:, 0]).any()


def test_pixel_grid_on_a_portrait_keeps_square_cells_and_crops_the_edge() -> None:
    pixels = np.asarray(postprocess.pixel_grid(noisy_picture(512, 768)))
    cell = round(768 / postprocess.PIXEL_CELLS)  # 12 pixels on both axes

    assert pixels.shape == (768, 512, 3)
    full = pixels[:, : (512 // cell) * cell]  # the last column of cells is cut by the edge
    blocks = full.reshape(768 // cell, cell, 512 // cell, cell, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()


def test_pixel_grid_is_deterministic() -> None:
    picture = noisy_picture(128, 128)

    assert postprocess.pixel_grid(picture).tobytes() == postprocess.pixel_grid(picture).tobytes()


def test_identity_leaves_the_picture_alone() -> None:
    picture = noisy_picture(64, 64)

    assert postprocess.apply("none", picture) is picture


def test_apply_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown post-processing 'sepia'"):
        postprocess.apply("sepia", noisy_picture(8, 8))


def test_pixel_art_already_on_the_grid_comes_through_unchanged() -> None:
    rng = np.random.default_rng(11)
    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    cells = palette[rng.integers(0, 6, (64, 64))]  # 64 x 64 cells, 6 colours
    picture = Image.fromarray(cells.repeat(8, 0).repeat(8, 1), "RGB")  # 8-pixel cells: 512 x 512

    assert np.array_equal(np.asarray(postprocess.pixel_grid(picture)), np.asarray(picture))


def test_pixel_grid_at_the_economy_size_keeps_64_cells() -> None:
    pixels = np.asarray(postprocess.pixel_grid(noisy_picture(384, 384)))
    cell = 384 // postprocess.PIXEL_CELLS  # 6

    blocks = pixels.reshape(64, cell, 64, cell, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()
    assert colours(Image.fromarray(pixels)) <= postprocess.PIXEL_COLOURS
