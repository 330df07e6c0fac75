"""Post-processing of a generated picture, chosen by name in a style. Pure functions on PIL images.

`pixel_grid` turns what a pixel-art LoRA draws (blocks of drifting sizes, soft edges, hundreds
of colours) into pixel art a pixel artist would accept: it finds the drawing's own cell size
and phase, gives each cell its majority colour from a small palette chosen in a perceptual
space (OKLab), and scales the cells up with nearest-neighbour to at least 1024 px, so that
Telegram's recompression keeps the blocks crisp.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

PIXEL_CELLS = 64  # cells along the longer side when the drawing shows no grid of its own
PIXEL_COLOURS = 16  # palette size
MIN_OUTPUT_SIDE = 1024  # the shorter side of the upscaled grid, at least
# Cell sizes searched, in pixels of the drawing: pixel-art-xl draws blocks of about 8 to 16
# pixels at 1024 (its card: "downscale 8 times"), and anything from 4 to 32 is plausible.
MIN_CELL, MAX_CELL = 4, 32
# How much stronger the colour changes on the chosen grid lines must be than on average for
# the grid to count as found; below it (noise, a photo) the default grid is used.
GRID_CONTRAST = 1.5
# Among cell sizes scoring within this fraction of the best, the smallest wins: a multiple of
# the true cell size scores as well as the size itself (its lines are a subset of the grid's).
HARMONIC_TOLERANCE = 0.85
_KMEANS_ROUNDS = 12
PALETTE_SAMPLE = 20_000  # pixels the palette is fitted to


@dataclass(frozen=True)
class Grid:
    cell: int  # side of a square cell, in pixels of the drawing
    phase_x: int  # where the first whole cell starts
    phase_y: int
    found: bool  # False: the default grid (the drawing showed none)


def identity(image: Image.Image) -> Image.Image:
    return image


def pixel_grid(image: Image.Image, colours: int = PIXEL_COLOURS) -> Image.Image:
    """Real pixel art: the drawing's own cells, one palette colour each, scaled up crisply."""
    if not 1 <= colours <= 256:
        raise ValueError(f"need 1 to 256 colours, got {colours}")
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255
    grid = find_grid(rgb)
    height, width, _ = rgb.shape
    columns = (width - grid.phase_x) // grid.cell
    rows = (height - grid.phase_y) // grid.cell
    cells = rgb[
        grid.phase_y : grid.phase_y + rows * grid.cell, grid.phase_x : grid.phase_x + columns * grid.cell
    ]
    lab = srgb_to_oklab(cells)
    flat = lab.reshape(-1, 3)
    # The palette from the drawing's pixels themselves (a fixed sample of them), not from cell
    # means: a mean is a colour the artist never used.
    palette = _palette(flat[:: max(1, len(flat) // PALETTE_SAMPLE)], colours)
    nearest = _nearest(flat, palette).reshape(rows, grid.cell, columns, grid.cell)
    # The colour most of a cell's pixels are nearest to: an anti-aliased edge or a stray
    # highlight does not tint the cell, as a mean would.
    counts = np.stack([(nearest == k).sum(axis=(1, 3)) for k in range(len(palette))], axis=-1)
    majority = counts.argmax(axis=-1)
    small = np.clip(oklab_to_srgb(palette)[majority] * 255, 0, 255).round().astype(np.uint8)
    scale = max(1, math.ceil(MIN_OUTPUT_SIDE / min(rows, columns)))
    picture = Image.fromarray(small, "RGB")
    return picture.resize((columns * scale, rows * scale), Image.Resampling.NEAREST)


def find_grid(rgb: np.ndarray) -> Grid:
    """The cell size and phase of a drawing's blocks (rgb: floats, H x W x 3).

    Colour changes between neighbouring pixels concentrate on the cells' edges: for each cell
    size and phase, the mean change on those lines, against the mean change anywhere, says how
    well that grid explains the drawing. Rows and columns share the cell size (square cells).
    """
    height, width, _ = rgb.shape
    across = np.abs(np.diff(rgb, axis=1)).sum(axis=(0, 2))  # change from column x to x + 1
    down = np.abs(np.diff(rgb, axis=0)).sum(axis=(1, 2))
    largest = min(MAX_CELL, width // 4, height // 4)
    scores: dict[int, tuple[float, int, int]] = {}
    for cell in range(MIN_CELL, largest + 1):
        score_x, phase_x = _best_phase(across, cell)
        score_y, phase_y = _best_phase(down, cell)
        scores[cell] = ((score_x + score_y) / 2, phase_x, phase_y)
    if scores:
        best = max(score for score, _, _ in scores.values())
        if best >= GRID_CONTRAST:
            cell = min(c for c, (score, _, _) in scores.items() if score >= HARMONIC_TOLERANCE * best)
            _, phase_x, phase_y = scores[cell]
            return Grid(cell, phase_x, phase_y, found=True)
    return Grid(max(1, round(max(width, height) / PIXEL_CELLS)), 0, 0, found=False)


def _best_phase(change: np.ndarray, cell: int) -> tuple[float, int]:
    """The phase whose grid lines carry the most change, and how much more than average.
    change[i] is the change between pixels i and i + 1: a cell starting at p has its left edge
    at change[p - 1]."""
    average = change.mean() or 1.0
    best_score, best_phase = -1.0, 0
    for phase in range(cell):
        lines = change[(phase - 1) % cell :: cell]
        score = float(lines.mean() / average) if len(lines) else 0.0
        if score > best_score:
            best_score, best_phase = score, phase
    return best_score, best_phase


def _palette(points: np.ndarray, colours: int) -> np.ndarray:
    """`colours` OKLab colours for the points (k-means, deterministic: farthest-point seeding
    from the darkest point, then a fixed number of rounds)."""
    flat = points.reshape(-1, 3)
    unique = np.unique(flat, axis=0)
    if len(unique) <= colours:
        return unique
    centres = [flat[flat[:, 0].argmin()]]
    distance = ((flat - centres[0]) ** 2).sum(axis=1)
    for _ in range(colours - 1):
        centres.append(flat[distance.argmax()])
        distance = np.minimum(distance, ((flat - centres[-1]) ** 2).sum(axis=1))
    palette = np.array(centres)
    for _ in range(_KMEANS_ROUNDS):
        nearest = _nearest(flat, palette)
        for k in range(colours):
            members = flat[nearest == k]
            if len(members):
                palette[k] = members.mean(axis=0)
    return palette


def _nearest(points: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The index of each point's nearest palette colour; |x - p|^2 expanded, in float32, so
    a 1024x1024 drawing against 16 colours takes 64 MB, not a (pixels x colours x 3) array."""
    x, p = points.astype(np.float32), palette.astype(np.float32)
    distances = (p**2).sum(axis=1)[None, :] - 2 * x @ p.T
    nearest: np.ndarray = distances.argmin(axis=1)
    return nearest


# OKLab (Björn Ottosson, 2020): a perceptual colour space in which Euclidean distance tracks
# how different two colours look, so a palette chosen in it wastes no colours on differences
# the eye barely sees (unlike RGB, where dark colours crowd together).
_RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_LAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB floats in 0..1 (any shape ending in 3) to OKLab."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    lab: np.ndarray = np.cbrt(linear @ _RGB_TO_LMS.T) @ _LMS_TO_LAB.T
    return lab


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """OKLab to sRGB floats (clipped to 0..1)."""
    linear = (lab @ np.linalg.inv(_LMS_TO_LAB).T) ** 3 @ np.linalg.inv(_RGB_TO_LMS).T
    linear = np.clip(linear, 0, 1)
    srgb: np.ndarray = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return srgb


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
