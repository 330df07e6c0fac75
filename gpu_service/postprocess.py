"""Post-processing of a generated picture, chosen by name in a style. Pure functions on PIL images."""

from __future__ import annotations

import math
from collections.abc import Callable

from PIL import Image

PIXEL_CELLS = 64  # grid cells along the longer side
PIXEL_COLOURS = 16  # palette size


def identity(image: Image.Image) -> Image.Image:
    return image


def pixel_grid(image: Image.Image, cells: int = PIXEL_CELLS, colours: int = PIXEL_COLOURS) -> Image.Image:
    """Real pixel art: square cells of one colour each, from a palette of at most `colours`.

    A diffusion model only imitates pixel art (soft edges, cells of drifting sizes, hundreds of
    colours), so the picture is averaged onto a grid, quantised, and blown up again without
    interpolation. The output keeps the input's size.
    """
    if cells < 1 or not 1 <= colours <= 256:
        raise ValueError(f"need at least one cell and 1 to 256 colours, got {cells} and {colours}")
    width, height = image.size
    cell = max(1, round(max(width, height) / cells))  # whole pixels, so every cell is square
    grid = (math.ceil(width / cell), math.ceil(height / cell))
    # BOX averages every source pixel of a cell: no aliasing from sampling a single one.
    small = image.convert("RGB").resize(grid, Image.Resampling.BOX)
    # Median cut without dithering: dithering would break the flat cells up again.
    small = small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    big = small.convert("RGB").resize((grid[0] * cell, grid[1] * cell), Image.Resampling.NEAREST)
    # The grid may overshoot the picture by part of a cell on the right and bottom edges.
    return big.crop((0, 0, width, height))


POSTPROCESSORS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": identity,
    "pixel_grid": pixel_grid,
}


def apply(name: str, image: Image.Image) -> Image.Image:
    try:
        postprocessor = POSTPROCESSORS[name]
    except KeyError:
        raise ValueError(f"unknown post-processing {name!r}; known: {', '.join(POSTPROCESSORS)}") from None
    return postprocessor(image)
