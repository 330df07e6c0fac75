"""One tiny engine per test session: building it is cheap, importing torch and diffusers is not."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gpu_service.contract import GenerationJob
from gpu_service.engine import Engine
from gpu_service.loading import load_engine
from tests.support.spy import RecordingPipeline, spy_engine  # noqa: F401  # re-exported for the tests here


@pytest.fixture(scope="session")
def tiny_engine() -> Engine:
    return load_engine(None, device="cpu")


def make_job(**overrides: object) -> GenerationJob:
    fields: dict[str, object] = {
        "job_id": "u1001",
        "chat_id": 42,
        "prompt": "a lighthouse at dusk",
        "style": "ghibli",
        "seed": 1234,
    }
    fields.update(overrides)
    return GenerationJob(**fields)  # type: ignore[arg-type]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(decode(data).convert("RGB")).astype(np.int16)
