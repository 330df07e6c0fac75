"""Settings, read once from the environment at start-up; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from gpu_service.contract import STYLES
from gpu_service.styles import PATHS

# Fixed by the contract (the functions write the same collection), so not configurable.
JOBS_COLLECTION = "jobs"
DEFAULT_MODEL_CACHE_DIR = "/tmp/models"


class ConfigError(ValueError):
    """The environment does not describe a service that can start."""


@dataclass(frozen=True)
class Settings:
    project: str
    images_bucket: str
    # Where the prepared models are (gpu_service/layout.py): a folder (for example the models
    # bucket mounted with Cloud Storage FUSE) or a gs://bucket/prefix, copied to
    # model_cache_dir at start-up. None: the tiny random pipeline.
    model_dir: str | None = None
    model_cache_dir: str = DEFAULT_MODEL_CACHE_DIR
    # The tiny pipeline only (no model_dir): its safety checker also flags every picture of a
    # prompt with this word, so a local stack can follow a flagged picture to the user. None:
    # the tiny pipeline has no safety checker. Real weights ignore it.
    tiny_flag_word: str | None = None
    # style id -> "fast" | "quality": overrides the style's own path (styles.py) for normal
    # mode. Economy mode always takes the economy recipe.
    style_paths: Mapping[str, str] = field(default_factory=dict)
    # Jobs of one plan arriving within the window run as one pipeline call of at most this
    # many pictures (gpu_service/batching.py).
    batch_max_size: int = 4
    batch_window_ms: int = 75
    # torch.compile the UNets: faster steps after minutes of compiling at start-up.
    torch_compile: bool = False
    # Draw every served shape once before /readyz turns 200 (off only for a demo with real
    # models on a CPU, where each warm-up picture takes minutes).
    warm_up: bool = True
    # A progress bar of each picture's steps on stderr (a demo's real models on a CPU).
    step_progress: bool = False
    port: int = 8080
    host: str = "0.0.0.0"
    # None: CUDA when a GPU is visible, else the CPU. Decided when the engine loads, so that
    # reading settings does not import torch (which takes seconds) before the server answers.
    torch_device: str | None = None
    jobs_collection: str = JOBS_COLLECTION
    # Pub/Sub topic for "started drawing" events (contract.progress_event); None: none sent.
    progress_topic: str | None = None
    # Vertex AI's custom-container contract (AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE; Vertex sets
    # both on a deployed model): when set, the app also serves these routes. None: Cloud Run.
    vertex_routes: VertexRoutes | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        # The project is required rather than discovered: Cloud Run does not set it, and the
        # emulators need it explicitly. Terraform passes it to the service.
        required = ("GOOGLE_CLOUD_PROJECT", "IMAGES_BUCKET")
        missing = [name for name in required if not environ.get(name, "").strip()]
        if missing:
            raise ConfigError(f"missing required environment variables: {', '.join(missing)}")

        def text(name: str, default: str = "") -> str:
            return environ.get(name, "").strip() or default

        # On Vertex AI the port is AIP_HTTP_PORT (8080 unless the model says otherwise).
        port_name = "AIP_HTTP_PORT" if text("AIP_HTTP_PORT") else "PORT"
        port = _integer(port_name, text(port_name, "8080"), low=1, high=65535)
        return cls(
            project=environ["GOOGLE_CLOUD_PROJECT"].strip(),
            images_bucket=environ["IMAGES_BUCKET"].strip(),
            model_dir=text("MODEL_DIR") or None,
            model_cache_dir=text("MODEL_CACHE_DIR", DEFAULT_MODEL_CACHE_DIR),
            tiny_flag_word=text("TINY_FLAG_WORD") or None,
            style_paths=parse_style_paths(text("STYLE_PATHS")),
            batch_max_size=_integer("BATCH_MAX_SIZE", text("BATCH_MAX_SIZE", "4"), low=1, high=64),
            batch_window_ms=_integer("BATCH_WINDOW_MS", text("BATCH_WINDOW_MS", "75"), low=0, high=10_000),
            torch_compile=_flag("TORCH_COMPILE", text("TORCH_COMPILE", "false")),
            warm_up=_flag("WARM_UP", text("WARM_UP", "true")),
            step_progress=_flag("STEP_PROGRESS", text("STEP_PROGRESS", "false")),
            port=port,
            host=text("HOST", "0.0.0.0"),
            torch_device=text("TORCH_DEVICE") or None,
            progress_topic=text("PROGRESS_TOPIC") or None,
            vertex_routes=parse_vertex_routes(text("AIP_HEALTH_ROUTE"), text("AIP_PREDICT_ROUTE")),
        )


@dataclass(frozen=True)
class VertexRoutes:
    health: str  # GET: 200 once the engine is warm, so Vertex routes no prediction to a cold replica
    predict: str  # POST {"instances": [job, ...]} -> {"predictions": [result, ...]}


# Paths the app serves for Cloud Run; a Vertex route on one of them would shadow it.
RESERVED_ROUTES = ("/", "/healthz", "/readyz")


def parse_vertex_routes(health: str, predict: str) -> VertexRoutes | None:
    if not health and not predict:
        return None
    if not health or not predict:
        raise ConfigError("AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE go together: set both or neither")
    for name, route in (("AIP_HEALTH_ROUTE", health), ("AIP_PREDICT_ROUTE", predict)):
        if not route.startswith("/") or route in RESERVED_ROUTES:
            raise ConfigError(
                f"{name} must be a path starting with / other than {RESERVED_ROUTES}, not {route!r}"
            )
    if health == predict:
        raise ConfigError("AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE must differ")
    return VertexRoutes(health=health, predict=predict)


def parse_style_paths(value: str) -> dict[str, str]:
    """ "realistic=quality, pixel=fast" -> {"realistic": "quality", "pixel": "fast"}."""
    paths: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        style, _, path = (piece.strip() for piece in pair.partition("="))
        if style not in STYLES or path not in PATHS:
            raise ConfigError(
                f"STYLE_PATHS: {pair!r} is not <style>=<path>, a style of {STYLES}, a path of {PATHS}"
            )
        paths[style] = path
    return paths


def _integer(name: str, value: str, *, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return int(value)


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")
