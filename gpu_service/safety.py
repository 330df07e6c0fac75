"""The safety checker on decoded pictures. SDXL pipelines have none of their own, so the
diffusers one (a CLIP image model with concept embeddings, from SD 1.5's repository) runs
standalone, on the pictures the engine decoded, before post-processing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from PIL import Image
from transformers import CLIPImageProcessor


class SafetyCheck(Protocol):
    """Whether each picture must not be sent (engine.Engine takes any such object)."""

    def flagged(self, pictures: Sequence[Image.Image]) -> list[bool]: ...


class ClipSafetyChecker:
    def __init__(
        self, checker: StableDiffusionSafetyChecker, extractor: CLIPImageProcessor, *, device: str
    ) -> None:
        self._checker = checker.to(device)
        self._extractor = extractor
        self._device = device

    def flagged(self, pictures: Sequence[Image.Image]) -> list[bool]:
        inputs = self._extractor(list(pictures), return_tensors="pt").pixel_values
        arrays = np.stack([np.asarray(picture, dtype=np.float32) / 255 for picture in pictures])
        with torch.no_grad():
            _, flags = self._checker(clip_input=inputs.to(self._device, self._checker.dtype), images=arrays)
        return [bool(flag) for flag in flags]
