"""A finished picture, as the storage edge uploads it. Light on purpose: no torch import."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from gpu_service.contract import GenerationJob


@dataclass(frozen=True)
class GeneratedImage:
    png: bytes
    width: int
    height: int
    style: str
    seed: int
    steps: int
    seconds: float  # time spent in the diffusion pipeline, for the logs


class ImageGenerator(Protocol):
    """What the request path needs from the engine (tests may hand in any such object)."""

    def generate(self, job: GenerationJob) -> GeneratedImage: ...

    def warm_up(self) -> None: ...


def encode_png(image: Image.Image) -> bytes:
    # PNG is lossless (pixel art stays crisp) and deterministic: the same pixels give the same
    # bytes, which is what makes a seed reproducible end to end.
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()
