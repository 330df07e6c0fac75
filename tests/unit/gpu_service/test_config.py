from __future__ import annotations

import pytest

from gpu_service.config import JOBS_COLLECTION, ConfigError, Settings, VertexRoutes

REQUIRED = {"GOOGLE_CLOUD_PROJECT": "imagebot-dev", "IMAGES_BUCKET": "imagebot-images-dev"}


def test_defaults_with_only_the_required_variables() -> None:
    settings = Settings.from_env(REQUIRED)

    assert settings == Settings(project="imagebot-dev", images_bucket="imagebot-images-dev")
    assert settings.model_dir is None
    assert settings.model_cache_dir == "/tmp/models"
    assert dict(settings.style_paths) == {}
    assert (settings.batch_max_size, settings.batch_window_ms, settings.torch_compile) == (4, 75, False)
    assert settings.port == 8080
    assert settings.torch_device is None  # decided when the engine loads: cuda if available
    assert settings.jobs_collection == JOBS_COLLECTION == "jobs"


def test_every_variable_is_read() -> None:
    environ = {
        **REQUIRED,
        "MODEL_DIR": "gs://imagebot-models-dev/2026-07-01",
        "MODEL_CACHE_DIR": "/var/models",
        "STYLE_PATHS": "realistic=quality, pixel=fast",
        "BATCH_MAX_SIZE": "8",
        "BATCH_WINDOW_MS": "50",
        "TORCH_COMPILE": "true",
        "PORT": "9000",
        "TORCH_DEVICE": "cuda:1",
        "HOST": "127.0.0.1",
        "TINY_FLAG_WORD": "flagme",
    }

    settings = Settings.from_env(environ)

    assert settings.model_dir == "gs://imagebot-models-dev/2026-07-01"
    assert settings.model_cache_dir == "/var/models"
    assert dict(settings.style_paths) == {"realistic": "quality", "pixel": "fast"}
    assert (settings.batch_max_size, settings.batch_window_ms, settings.torch_compile) == (8, 50, True)
    assert settings.port == 9000
    assert settings.torch_device == "cuda:1"
    assert settings.host == "127.0.0.1"
    assert settings.tiny_flag_word == "flagme"


def test_empty_model_dir_means_the_tiny_pipeline() -> None:
    assert Settings.from_env({**REQUIRED, "MODEL_DIR": "  "}).model_dir is None


@pytest.mark.parametrize("missing", ["GOOGLE_CLOUD_PROJECT", "IMAGES_BUCKET"])
def test_a_missing_required_variable_is_named(missing: str) -> None:
    environ = {key: value for key, value in REQUIRED.items() if key != missing}

    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(environ)


@pytest.mark.parametrize("port", ["http", "0", "70000", "-1"])
def test_a_bad_port_is_refused(port: str) -> None:
    with pytest.raises(ConfigError, match="PORT"):
        Settings.from_env({**REQUIRED, "PORT": port})


def test_settings_are_frozen() -> None:
    settings = Settings.from_env(REQUIRED)

    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STYLE_PATHS", "realistic=slow"),
        ("STYLE_PATHS", "cubism=fast"),
        ("STYLE_PATHS", "realistic"),
        ("BATCH_MAX_SIZE", "0"),
        ("BATCH_MAX_SIZE", "four"),
        ("BATCH_WINDOW_MS", "-5"),
        ("TORCH_COMPILE", "maybe"),
    ],
)
def test_a_bad_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**REQUIRED, name: value})


def test_vertex_ai_variables_give_its_port_and_routes() -> None:
    # As Vertex AI sets them on a deployed model; AIP_HTTP_PORT wins over PORT.
    environ = {
        **REQUIRED,
        "PORT": "9000",
        "AIP_HTTP_PORT": "8081",
        "AIP_HEALTH_ROUTE": "/v1/endpoints/1/deployedModels/2",
        "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
    }

    settings = Settings.from_env(environ)

    assert settings.port == 8081
    assert settings.vertex_routes == VertexRoutes(
        health="/v1/endpoints/1/deployedModels/2", predict="/v1/endpoints/1/deployedModels/2:predict"
    )
    assert Settings.from_env(REQUIRED).vertex_routes is None  # Cloud Run: push route only


@pytest.mark.parametrize(
    ("health", "predict"),
    [
        ("/health", ""),  # one without the other
        ("", "/predict"),
        ("/", "/predict"),  # would shadow the push route
        ("/health", "/readyz"),
        ("health", "/predict"),  # not a path
        ("/same", "/same"),
    ],
)
def test_vertex_routes_that_cannot_be_served_are_refused(health: str, predict: str) -> None:
    with pytest.raises(ConfigError, match="AIP_"):
        Settings.from_env({**REQUIRED, "AIP_HEALTH_ROUTE": health, "AIP_PREDICT_ROUTE": predict})


def test_a_bad_vertex_port_is_named() -> None:
    with pytest.raises(ConfigError, match="AIP_HTTP_PORT"):
        Settings.from_env({**REQUIRED, "AIP_HTTP_PORT": "http"})


def test_warm_up_and_step_progress_are_switches_for_a_real_model_demo_on_a_cpu() -> None:
    base = {"GOOGLE_CLOUD_PROJECT": "p", "IMAGES_BUCKET": "b"}

    default = Settings.from_env(base)
    demo = Settings.from_env({**base, "WARM_UP": "false", "STEP_PROGRESS": "true"})

    assert (default.warm_up, default.step_progress) == (True, False)
    assert (demo.warm_up, demo.step_progress) == (False, True)
    with pytest.raises(ConfigError, match="WARM_UP"):
        Settings.from_env({**base, "WARM_UP": "sometimes"})
