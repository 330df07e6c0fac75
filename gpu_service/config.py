"""Settings, read once from the environment at start-up; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Fixed by the contract (the functions write the same collection), so not configurable.
JOBS_COLLECTION = "jobs"


class ConfigError(ValueError):
    """The environment does not describe a service that can start."""


@dataclass(frozen=True)
class Settings:
    project: str
    images_bucket: str
    # A folder in diffusers layout with one pipeline per style (MODEL_DIR/<style>/model_index.json),
    # for example the models bucket mounted as a Cloud Run volume. None: the tiny random pipeline.
    model_dir: Path | None = None
    port: int = 8080
    host: str = "0.0.0.0"
    # None: CUDA when a GPU is visible, else the CPU. Decided when the engine loads, so that
    # reading settings does not import torch (which takes seconds) before the server answers.
    torch_device: str | None = None
    jobs_collection: str = JOBS_COLLECTION

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        # The project is required rather than discovered: Cloud Run does not set it, and the
        # emulators need it explicitly. Terraform passes it to the service.
        required = ("GOOGLE_CLOUD_PROJECT", "IMAGES_BUCKET")
        missing = [name for name in required if not environ.get(name, "").strip()]
        if missing:
            raise ConfigError(f"missing required environment variables: {', '.join(missing)}")
        port_text = environ.get("PORT", "").strip() or "8080"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"PORT must be a TCP port number, not {port_text!r}")
        model_dir = environ.get("MODEL_DIR", "").strip()
        return cls(
            project=environ["GOOGLE_CLOUD_PROJECT"].strip(),
            images_bucket=environ["IMAGES_BUCKET"].strip(),
            model_dir=Path(model_dir) if model_dir else None,
            port=int(port_text),
            host=environ.get("HOST", "").strip() or "0.0.0.0",
            torch_device=environ.get("TORCH_DEVICE", "").strip() or None,
        )
