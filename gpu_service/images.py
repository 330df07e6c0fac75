"""A finished picture, as the storage edge uploads it. Light on purpose: no torch import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from gpu_service.contract import GenerationJob
from gpu_service.encoding import Encoded


@dataclass(frozen=True)
class GeneratedImage(Encoded):
    data: bytes  # the encoded file
    encoding: str  # png | jpeg | webp (gpu_service.encoding)
    width: int
    height: int
    style: str
    seed: int
    steps: int
    seconds: float  # this job's share of the pipeline call, for the logs
    batch_size: int = 1  # how many jobs shared the pipeline call
    # Whether the job's own negative prompt (`--no ...`) was drawn with: a recipe without
    # guidance cannot, and the caption must then not claim it.
    negative_applied: bool = False
    # A grid job's candidates, 1 to GRID_SIZE in order (None: flagged by the safety checker,
    # never stored); the picture itself is then their 2x2 collage. Empty for one picture.
    candidates: tuple[GeneratedImage | None, ...] = ()


class ImageGenerator(Protocol):
    """What the request path needs from the engine (tests may hand in any such object).
    `init`: the job's input image (img2img), already read from the bucket and opened."""

    def generate(self, job: GenerationJob, init: Image.Image | None = None) -> GeneratedImage: ...

    def warm_up(self) -> None: ...
