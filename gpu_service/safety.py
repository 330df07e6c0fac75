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
    """Whether each picture must not be sent (engine.Engine takes any such object). Each
    picture comes with the prompt it was drawn from; the CLIP checker judges the picture alone."""

    def flagged(self, pictures: Sequence[Image.Image], prompts: Sequence[str]) -> list[bool]: ...


class ClipSafetyChecker:
    def __init__(
        self, checker: StableDiffusionSafetyChecker, extractor: CLIPImageProcessor, *, device: str
    ) -> None:
        self._checker = checker.to(device)
        self._extractor = extractor
        self._device = device

    def flagged(self, pictures: Sequence[Image.Image], prompts: Sequence[str]) -> list[bool]:
        del prompts  # a picture is judged by what it shows
        inputs = self._extractor(list(pictures), return_tensors="pt").pixel_values
        arrays = np.stack([np.asarray(picture, dtype=np.float32) / 255 for picture in pictures])
        with torch.no_grad():
            _, flags = self._checker(clip_input=inputs.to(self._device, self._checker.dtype), images=arrays)
        return [bool(flag) for flag in flags]


class MarkedPromptChecker:
    """The tiny pipeline's checker (its pictures are noise, which no classifier would flag):
    the tiny CLIP checker on each picture, and also every picture of a prompt that has the
    marker among its words (TINY_FLAG_WORD), so that a local stack can draw a flagged
    picture on purpose and follow it to the user."""

    def __init__(self, pictures: SafetyCheck, marker: str) -> None:
        self._pictures = pictures
        self._marker = marker.casefold()

    def flagged(self, pictures: Sequence[Image.Image], prompts: Sequence[str]) -> list[bool]:
        by_picture = self._pictures.flagged(pictures, prompts)
        return [
            flag or self._marker in prompt.casefold().split()
            for flag, prompt in zip(by_picture, prompts, strict=True)
        ]
