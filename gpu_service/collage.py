"""A grid job's 2x2 collage of its candidates. Pure: pictures in, picture out."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from gpu_service.contract import GRID_SIZE

COLUMNS = 2
# A flagged candidate's tile: plain mid grey, so the other three still make a choice.
BLANK = (128, 128, 128)


def collage(tiles: Sequence[Image.Image | None]) -> Image.Image:
    """GRID_SIZE tiles, row by row (1 2 / 3 4), at the size of the first present one; None is
    a blank tile. Tiles of another size (the pixel grid picks each drawing's own cell size,
    so their sizes may differ by a few cells) are scaled with nearest-neighbour, which keeps
    hard edges hard."""
    if len(tiles) != GRID_SIZE:
        raise ValueError(f"a collage needs {GRID_SIZE} tiles, not {len(tiles)}")
    present = [tile for tile in tiles if tile is not None]
    if not present:
        raise ValueError("a collage needs at least one picture")
    width, height = present[0].size
    rows = GRID_SIZE // COLUMNS
    sheet = Image.new("RGB", (width * COLUMNS, height * rows), BLANK)
    for index, tile in enumerate(tiles):
        if tile is None:
            continue
        if tile.size != (width, height):
            tile = tile.resize((width, height), Image.Resampling.NEAREST)
        sheet.paste(tile.convert("RGB"), ((index % COLUMNS) * width, (index // COLUMNS) * height))
    return sheet
