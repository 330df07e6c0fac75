from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from gpu_service import postprocess


def noisy_picture(width: int, height: int, seed: int = 7) -> Image.Image:
    """Smooth gradients plus noise: thousands of colours and no grid, like a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def drawn_pixel_art(
    cell: int, phase: tuple[int, int], size: tuple[int, int] = (1024, 1024), seed: int = 3
) -> tuple[Image.Image, np.ndarray]:
    """What a pixel-art model draws: blocks of `cell` pixels starting at `phase` (x, y), six
    colours, edges softened and noise on top. Returns it and the true colour of each cell."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    width, height = size
    grid = palette[rng.integers(0, 6, (height // cell + 2, width // cell + 2))]
    sharp = grid.repeat(cell, 0).repeat(cell, 1)
    x0, y0 = (cell - phase[0]) % cell, (cell - phase[1]) % cell
    sharp = sharp[y0 : y0 + height, x0 : x0 + width]
    soft = np.asarray(Image.fromarray(sharp).filter(ImageFilter.GaussianBlur(1.2))).astype(float)
    noisy = np.clip(soft + rng.normal(0, 6, soft.shape), 0, 255).astype(np.uint8)
    truth = grid[1 if phase[1] else 0 :, 1 if phase[0] else 0 :]
    return Image.fromarray(noisy, "RGB"), truth


def colours(image: Image.Image) -> int:
    return len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))


@pytest.mark.parametrize(("cell", "phase"), [(8, (0, 0)), (12, (7, 5)), (16, (3, 11))])
def test_the_drawings_own_cell_size_and_phase_are_found(cell: int, phase: tuple[int, int]) -> None:
    picture, _ = drawn_pixel_art(cell, phase)

    grid = postprocess.find_grid(np.asarray(picture) / 255)

    assert (grid.cell, grid.phase_x, grid.phase_y, grid.found) == (cell, *phase, True)


def test_each_cell_gets_its_majority_colour_from_a_small_palette_scaled_up_crisply() -> None:
    picture, truth = drawn_pixel_art(12, (7, 5))

    art = postprocess.pixel_grid(picture)

    pixels = np.asarray(art).astype(int)
    scale = art.width // ((1024 - 7) // 12)
    assert min(art.size) >= postprocess.MIN_OUTPUT_SIDE and colours(art) <= postprocess.PIXEL_COLOURS
    cells = pixels[::scale, ::scale]
    blocks = pixels.reshape(cells.shape[0], scale, cells.shape[1], scale, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()  # nearest-neighbour: flat blocks
    expected = truth[: cells.shape[0], : cells.shape[1]].astype(int)
    assert np.abs(cells - expected).max(axis=-1).mean() < 12  # each cell is its drawn colour


def test_a_cell_takes_its_majority_colour_not_the_mean() -> None:
    # 16-pixel cells: each 60% red and 40% blue. A mean would paint them purple.
    cell = np.zeros((16, 16, 3), np.uint8)
    cell[:, :10] = (220, 30, 30)
    cell[:, 10:] = (30, 30, 220)
    picture = Image.fromarray(np.tile(cell, (64, 64, 1)), "RGB")

    art = np.asarray(postprocess.pixel_grid(picture, colours=4)).astype(int)

    red, purple = np.array([220, 30, 30]), np.array([125, 30, 125])
    assert np.abs(art - red).max() <= 3 and np.abs(art - purple).max() > 50


def test_the_palette_is_chosen_in_oklab() -> None:
    assert np.allclose(postprocess.srgb_to_oklab(np.array([1.0, 1.0, 1.0])), [1.0, 0.0, 0.0], atol=1e-6)
    assert np.allclose(postprocess.srgb_to_oklab(np.array([0.0, 0.0, 0.0])), [0.0, 0.0, 0.0], atol=1e-6)
    colours_in = np.random.default_rng(1).random((50, 3))
    assert np.allclose(
        postprocess.oklab_to_srgb(postprocess.srgb_to_oklab(colours_in)), colours_in, atol=1e-6
    )


def test_a_drawing_without_a_grid_gets_the_default_grid_and_a_small_palette() -> None:
    picture = noisy_picture(512, 512)

    grid = postprocess.find_grid(np.asarray(picture) / 255)
    art = postprocess.pixel_grid(picture)

    assert not grid.found and grid.cell == 512 // postprocess.PIXEL_CELLS
    assert min(art.size) >= postprocess.MIN_OUTPUT_SIDE and colours(art) <= postprocess.PIXEL_COLOURS


def test_a_portrait_keeps_square_cells_and_its_shorter_side_reaches_1024() -> None:
    picture, _ = drawn_pixel_art(16, (0, 0), size=(896, 1152))

    art = postprocess.pixel_grid(picture)

    assert art.size[0] >= 1024 and art.size[1] > art.size[0]
    assert art.size[0] / (896 // 16) == art.size[1] / (1152 // 16)  # one scale on both axes


def test_pixel_grid_is_deterministic() -> None:
    picture, _ = drawn_pixel_art(8, (2, 2), size=(256, 256))

    assert postprocess.pixel_grid(picture).tobytes() == postprocess.pixel_grid(picture).tobytes()


def test_identity_leaves_the_picture_alone() -> None:
    picture = noisy_picture(64, 64)

    assert postprocess.apply("none", picture) is picture


def test_apply_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown post-processing 'sepia'"):
        postprocess.apply("sepia", noisy_picture(8, 8))
