from __future__ import annotations

from pathlib import Path

import pytest

from gpu_service.config import JOBS_COLLECTION, ConfigError, Settings

REQUIRED = {"GOOGLE_CLOUD_PROJECT": "imagebot-dev", "IMAGES_BUCKET": "imagebot-images-dev"}


def test_defaults_with_only_the_required_variables() -> None:
    settings = Settings.from_env(REQUIRED)

    assert settings == Settings(project="imagebot-dev", images_bucket="imagebot-images-dev")
    assert settings.model_dir is None
    assert settings.port == 8080
    assert settings.torch_device is None  # decided when the engine loads: cuda if available
    assert settings.jobs_collection == JOBS_COLLECTION == "jobs"


def test_every_variable_is_read() -> None:
    environ = {
        **REQUIRED,
        "MODEL_DIR": "/models",
        "PORT": "9000",
        "TORCH_DEVICE": "cuda:1",
        "HOST": "127.0.0.1",
    }

    settings = Settings.from_env(environ)

    assert settings.model_dir == Path("/models")
    assert settings.port == 9000
    assert settings.torch_device == "cuda:1"
    assert settings.host == "127.0.0.1"


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
