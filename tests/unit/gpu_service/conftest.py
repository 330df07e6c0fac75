"""One tiny engine per test session: building it is cheap, importing torch and diffusers is not."""

from __future__ import annotations

import pytest

from gpu_service.contract import GenerationJob
from gpu_service.engine import Engine, load_engine


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
